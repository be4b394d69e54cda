//go:build unix

package fix

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on the undo log, or fails at once if
// another process holds it.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return err
}
