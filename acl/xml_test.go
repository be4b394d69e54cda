package acl

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aclscan/aclscan/internal/fixtures"
)

// referencePolicy decodes with encoding/xml: the behaviour ParsePolicy
// must match.
func referencePolicy(doc []byte) (Policy, error) {
	var x struct {
		XMLName xml.Name `xml:"AccessControlPolicy"`
		Owner   struct {
			ID string `xml:"ID"`
		} `xml:"Owner"`
		Grants []struct {
			Grantee struct {
				Type     string `xml:"type,attr"`
				TypeElem string `xml:"Type"`
				ID       string `xml:"ID"`
				URI      string `xml:"URI"`
				Email    string `xml:"EmailAddress"`
			} `xml:"Grantee"`
			Permission string `xml:"Permission"`
		} `xml:"AccessControlList>Grant"`
	}
	if err := xml.Unmarshal(doc, &x); err != nil {
		return Policy{}, err
	}
	p := Policy{Owner: x.Owner.ID}
	for _, g := range x.Grants {
		grant := Grant{Type: g.Grantee.Type, ID: g.Grantee.ID, URI: g.Grantee.URI, Email: g.Grantee.Email, Permission: g.Permission}
		if grant.Type == "" {
			grant.Type = g.Grantee.TypeElem
		}
		grant.InferType()
		p.Grants = append(p.Grants, grant)
	}
	return p, nil
}

func aclDocuments(t testing.TB) map[string][]byte {
	docs, err := fixtures.ACLDocuments()
	if err != nil || len(docs) == 0 {
		t.Fatalf("no ACL documents (%v)", err)
	}
	return docs
}

// isXMLChar reports whether r may appear in an XML 1.0 document (the
// Char production of the XML specification).
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

func TestParsePolicyMatchesEncodingXML(t *testing.T) {
	for name, doc := range aclDocuments(t) {
		want, werr := referencePolicy(doc)
		got, err := ParsePolicy(doc)
		if (werr != nil) != (err != nil) {
			t.Errorf("%s: error %v, encoding/xml %v", name, err, werr)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
		}
	}
}

func TestParsePolicyShapes(t *testing.T) {
	const head = `<?xml version="1.0"?>`
	cases := []struct {
		name, doc string
		want      Policy
		errHas    string
	}{
		{"minimal", `<AccessControlPolicy><Owner><ID>o</ID></Owner></AccessControlPolicy>`, Policy{Owner: "o"}, ""},
		{"entities and CDATA", head + `<AccessControlPolicy><Owner><ID>a&amp;b&#x41;&#66;<![CDATA[<c>]]></ID></Owner>` +
			`<AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type='Group'><URI>u&lt;</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`,
			Policy{Owner: "a&bAB<c>", Grants: []Grant{{Type: "Group", URI: "u<", Permission: "READ"}}}, ""},
		{"prefixed names and comments", `<s3:AccessControlPolicy xmlns:s3="x"><!-- c --><s3:Owner><s3:ID>o</s3:ID></s3:Owner></s3:AccessControlPolicy>`, Policy{Owner: "o"}, ""},
		{"self-closing elements", `<AccessControlPolicy><Owner><ID/></Owner><AccessControlList><Grant><Grantee type="CanonicalUser"/><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`,
			Policy{Grants: []Grant{{Type: "CanonicalUser", Permission: "READ"}}}, ""},
		{"trailing junk after the root is ignored", `<AccessControlPolicy><Owner><ID>o</ID></Owner></AccessControlPolicy><junk`, Policy{Owner: "o"}, ""},
		{"error document", `<Error><Code>AccessDenied</Code></Error>`, Policy{}, "root element is <Error>"},
		{"html", `<!DOCTYPE html><html><body>hi</body></html>`, Policy{}, "document type"},
		{"truncated", `<AccessControlPolicy><Owner><ID>o</ID></Own`, Policy{}, "unexpected end"},
		{"mismatched", `<AccessControlPolicy><Owner></ID></AccessControlPolicy>`, Policy{}, "unexpected end tag"},
		{"unknown entity", `<AccessControlPolicy><Owner><ID>&nope;</ID></Owner></AccessControlPolicy>`, Policy{}, "unknown entity"},
		{"empty", ``, Policy{}, "no root element"},
		{"deep", strings.Repeat("<AccessControlPolicy>", 40), Policy{}, "nested too deep"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePolicy([]byte(tc.doc))
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.errHas)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// FuzzParsePolicy holds ParsePolicy to encoding/xml on any input both
// accept, and to not panicking on everything else.
func FuzzParsePolicy(f *testing.F) {
	for _, doc := range aclDocuments(f) {
		f.Add(doc)
	}
	f.Add([]byte(`<AccessControlPolicy><Owner><ID>a&amp;b</ID></Owner><AccessControlList><Grant><Grantee t:type="Group"><URI>x</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`))
	// Shapes where a first version differed from encoding/xml.
	f.Add([]byte("<AccessControlPolicy><Owner><ID>a\r\nb\rc</ID></Owner><AccessControlList><Grant><Grantee type=\"x\r\ny\"/></Grant></AccessControlList></AccessControlPolicy>"))
	f.Add([]byte("<AccessControlPolicy><Owner><ID>a<![CDATA[\r\n]]>b</ID></Owner></AccessControlPolicy>"))
	f.Add([]byte("<AccessControlPolicy><Owner><ID>a<X>in</X>b</ID></Owner></AccessControlPolicy>"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, err := ParsePolicy(doc)
		want, werr := referencePolicy(doc)
		if err != nil || werr != nil {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("differs from encoding/xml on %q:\n got %+v\nwant %+v", doc, got, want)
		}
	})
}

// FuzzParsePolicyValues round-trips arbitrary grant values through XML
// escaping: whatever S3 escapes, ParsePolicy gives back.
func FuzzParsePolicyValues(f *testing.F) {
	f.Add("owner", "CanonicalUser", "id", "", "", "FULL_CONTROL")
	f.Add("o&<>\"'", "Group", "", AllUsersURI, "", "READ")
	f.Add("ünï", "AmazonCustomerByEmail", "", "", "x@example.com", "WRITE_ACP")
	f.Fuzz(func(t *testing.T, owner, typ, id, uri, email, perm string) {
		for _, s := range []string{owner, typ, id, uri, email, perm} {
			if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return !isXMLChar(r) }) {
				return
			}
		}
		var b bytes.Buffer
		esc := func(s string) { _ = xml.EscapeText(&b, []byte(s)) }
		b.WriteString(`<AccessControlPolicy><Owner><ID>`)
		esc(owner)
		b.WriteString(`</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="`)
		esc(typ)
		b.WriteString(`"><ID>`)
		esc(id)
		b.WriteString(`</ID><URI>`)
		esc(uri)
		b.WriteString(`</URI><EmailAddress>`)
		esc(email)
		b.WriteString(`</EmailAddress></Grantee><Permission>`)
		esc(perm)
		b.WriteString(`</Permission></Grant></AccessControlList></AccessControlPolicy>`)
		got, err := ParsePolicy(b.Bytes())
		if err != nil {
			t.Fatalf("ParsePolicy(%q): %v", b.String(), err)
		}
		want := Policy{Owner: owner, Grants: []Grant{{Type: typ, ID: id, URI: uri, Email: email, Permission: perm}}}
		want.Grants[0].InferType()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip of %q:\n got %+v\nwant %+v", b.String(), got, want)
		}
	})
}

func BenchmarkParsePolicy(b *testing.B) {
	doc, err := os.ReadFile(filepath.Join("..", "internal", "fixtures", "acl", "rgw-public-read.xml"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("aclscan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParsePolicy(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-xml", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := referencePolicy(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// AWS's documented GetObjectAcl sample gives the grantee type as a <Type>
// element; an xsi:type attribute, when both are there, wins.
func TestParsePolicyTypeElement(t *testing.T) {
	for doc, want := range map[string]string{
		`<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>x</ID><Type>CanonicalUser</Type></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`:                                                                        TypeCanonicalUser,
		`<AccessControlPolicy><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><ID>x</ID><Type>CanonicalUser</Type></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`: TypeGroup,
		`<AccessControlPolicy><AccessControlList><Grant><Grantee><URI>` + AllUsersURI + `</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`:                                                                              TypeGroup,
	} {
		p, err := ParsePolicy([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Grants) != 1 || p.Grants[0].Type != want {
			t.Errorf("%s: grants %+v, want type %s", doc, p.Grants, want)
		}
	}
}
