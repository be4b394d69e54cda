package s3access

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const listHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

var listObjectsDocs = map[string]string{
	"radosgw page":        listHeader + `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated><Contents><Key>a%2Fb+c</Key><LastModified>2026-11-30T04:00:00.000Z</LastModified><ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>0</Size><StorageClass>STANDARD</StorageClass><Owner><ID>usera</ID><DisplayName>User A</DisplayName></Owner><Type>Normal</Type></Contents><Contents><Key>%C3%BC%01</Key><Owner><ID>userb</ID></Owner></Contents><NextContinuationToken>tok&amp;en</NextContinuationToken></ListBucketResult>`,
	"last page, no owner": listHeader + `<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key></Contents></ListBucketResult>`,
	"empty":               listHeader + `<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>`,
	"entities":            `<ListBucketResult><Contents><Key>&lt;&#x41;&gt;&amp;</Key></Contents><IsTruncated>false</IsTruncated></ListBucketResult>`,
}

var listVersionsDocs = map[string]string{
	"versions and markers": listHeader + `<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated><NextKeyMarker>doc a+b</NextKeyMarker><NextVersionIdMarker>v1</NextVersionIdMarker><DeleteMarker><Key>doc+a%2Bb</Key><VersionId>v3</VersionId><IsLatest>true</IsLatest><Owner><ID>usera</ID></Owner></DeleteMarker><Version><Key>doc+a%2Bb</Key><VersionId>v2</VersionId><IsLatest>false</IsLatest><Owner><ID>usera</ID></Owner></Version><Version><Key>doc+a%2Bb</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest></Version></ListVersionsResult>`,
	"empty":                `<ListVersionsResult><IsTruncated>false</IsTruncated></ListVersionsResult>`,
}

// listServer answers every request with doc, and records the queries.
func listServer(t *testing.T, doc string) (*Client, *[]string) {
	t.Helper()
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/xml")
		_, _ = w.Write([]byte(doc))
	}))
	t.Cleanup(srv.Close)
	c, err := New(context.Background(), Options{EndpointURL: srv.URL, Credentials: StaticCredentials("AKIDTESTFAKE", "fake-secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	return c, &queries
}

// The lean list path reads what the SDK's deserializer reads, for the
// fields a scan uses.
func TestListObjectsV2MatchesSDK(t *testing.T) {
	t.Parallel()
	for name, doc := range listObjectsDocs {
		t.Run(name, func(t *testing.T) {
			c, queries := listServer(t, doc)
			in := &s3.ListObjectsV2Input{Bucket: aws.String("b"), MaxKeys: aws.Int32(2), FetchOwner: aws.Bool(true),
				EncodingType: types.EncodingTypeUrl, Prefix: aws.String("a b/"), StartAfter: aws.String("x+y"), ContinuationToken: aws.String("t/1")}
			lean, err := c.listObjectsV2(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			sdk, err := c.sdk.ListObjectsV2(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := objectFields(lean), objectFields(sdk); !reflect.DeepEqual(got, want) {
				t.Errorf("lean path read\n %+v\nthe SDK read\n %+v", got, want)
			}
			if (*queries)[0] != "continuation-token=t%2F1&encoding-type=url&fetch-owner=true&list-type=2&max-keys=2&prefix=a%20b%2F&start-after=x%2By" {
				t.Errorf("query %q", (*queries)[0])
			}
		})
	}
}

func TestListObjectVersionsMatchesSDK(t *testing.T) {
	t.Parallel()
	for name, doc := range listVersionsDocs {
		t.Run(name, func(t *testing.T) {
			c, queries := listServer(t, doc)
			in := &s3.ListObjectVersionsInput{Bucket: aws.String("b"), EncodingType: types.EncodingTypeUrl, KeyMarker: aws.String("k"), VersionIdMarker: aws.String("v")}
			lean, err := c.listObjectVersions(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			sdk, err := c.sdk.ListObjectVersions(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := versionFields(lean), versionFields(sdk); !reflect.DeepEqual(got, want) {
				t.Errorf("lean path read\n %+v\nthe SDK read\n %+v", got, want)
			}
			if (*queries)[0] != "encoding-type=url&key-marker=k&version-id-marker=v&versions=" {
				t.Errorf("query %q", (*queries)[0])
			}
		})
	}
}

func TestListRejectsOtherDocuments(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"another root": `<Error><Code>x</Code></Error>`,
		"html":         `<html><body>502 Bad Gateway</body></html>`,
		"truncated":    `<ListBucketResult><Contents><Key>a`,
		"bad boolean":  `<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>`,
	} {
		if _, err := parseListObjectsV2([]byte(doc)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

type listedObjects struct {
	Keys, Owners []string
	Truncated    bool
	Token        string
	Encoding     types.EncodingType
}

func objectFields(out *s3.ListObjectsV2Output) listedObjects {
	l := listedObjects{Truncated: aws.ToBool(out.IsTruncated), Token: aws.ToString(out.NextContinuationToken), Encoding: out.EncodingType}
	for _, o := range out.Contents {
		l.Keys = append(l.Keys, aws.ToString(o.Key))
		if o.Owner != nil {
			l.Owners = append(l.Owners, aws.ToString(o.Owner.ID))
		}
	}
	return l
}

type listedVersions struct {
	Entries              []string // kind key version latest owner
	Truncated            bool
	NextKey, NextVersion string
	Encoding             types.EncodingType
}

func versionFields(out *s3.ListObjectVersionsOutput) listedVersions {
	l := listedVersions{Truncated: aws.ToBool(out.IsTruncated), NextKey: aws.ToString(out.NextKeyMarker), NextVersion: aws.ToString(out.NextVersionIdMarker), Encoding: out.EncodingType}
	owner := func(o *types.Owner) string {
		if o == nil {
			return "-"
		}
		return aws.ToString(o.ID)
	}
	for _, v := range out.Versions {
		l.Entries = append(l.Entries, "version "+aws.ToString(v.Key)+" "+aws.ToString(v.VersionId)+" "+boolString(v.IsLatest)+" "+owner(v.Owner))
	}
	for _, m := range out.DeleteMarkers {
		l.Entries = append(l.Entries, "marker "+aws.ToString(m.Key)+" "+aws.ToString(m.VersionId)+" "+boolString(m.IsLatest)+" "+owner(m.Owner))
	}
	return l
}

func boolString(b *bool) string {
	if b == nil {
		return "nil"
	}
	if *b {
		return "true"
	}
	return "false"
}

// FuzzParseListObjectsV2 holds the list parser to encoding/xml's reading
// of the same document, wherever both accept it.
func FuzzParseListObjectsV2(f *testing.F) {
	for _, doc := range listObjectsDocs {
		f.Add([]byte(doc))
	}
	f.Add([]byte(`<ListBucketResult><Contents><Key>a</Key><Contents><Key>nested</Key></Contents></Contents></ListBucketResult>`))
	f.Add([]byte(`<x:ListBucketResult xmlns:x="s3"><x:Contents><x:Key>p&#10;q</x:Key></x:Contents></x:ListBucketResult>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, err := parseListObjectsV2(doc)
		var want struct {
			XMLName     xml.Name `xml:"ListBucketResult"`
			IsTruncated string
			Token       string `xml:"NextContinuationToken"`
			Contents    []struct {
				Key   string
				Owner struct{ ID string }
			}
		}
		werr := xml.NewDecoder(bytes.NewReader(doc)).Decode(&want)
		if err != nil || werr != nil {
			return
		}
		if len(got.Contents) != len(want.Contents) {
			t.Fatalf("%d entries, encoding/xml read %d in %q", len(got.Contents), len(want.Contents), doc)
		}
		for i, o := range got.Contents {
			if aws.ToString(o.Key) != want.Contents[i].Key {
				t.Fatalf("key %q, encoding/xml read %q in %q", aws.ToString(o.Key), want.Contents[i].Key, doc)
			}
		}
		if aws.ToString(got.NextContinuationToken) != want.Token {
			t.Fatalf("token %q, encoding/xml read %q", aws.ToString(got.NextContinuationToken), want.Token)
		}
	})
}

// Hostile or broken list answers (httptest: radosgw does not produce
// them) end in an error for the page, never a crash or unbounded memory.
func TestListHostileAnswers(t *testing.T) {
	t.Parallel()
	cases := map[string]http.HandlerFunc{
		"HTML instead of XML": func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
		},
		"200 with an error body": func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`<Error><Code>InternalError</Code></Error>`))
		},
		"truncated XML": func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a`))
		},
		"Content-Length larger than the body": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5000")
			_, _ = w.Write([]byte(`<ListBucketResult><Contents>`))
		},
		"enormous body": func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`<ListBucketResult>`))
			chunk := []byte(strings.Repeat("<Contents><Key>k</Key></Contents>", 1000))
			for written := 0; written <= maxListResponse; written += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return // the client stopped reading: as it should
				}
			}
		},
		"nesting bomb": func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`<ListBucketResult>` + strings.Repeat("<Contents>", 10000)))
		},
	}
	for name, handler := range cases {
		t.Run(name, func(t *testing.T) {
			c, _ := testClient(t, handler)
			_, err := c.listObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("b")})
			if err == nil {
				t.Fatal("a broken list page was accepted")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// radosgw answers ListObjectVersions with the key-marker's own versions
// first (AWS starts after it); a range starting after that key must not
// take them, while a continued page keeps the key's later versions.
func TestVersionsPageSkipsTheStartKey(t *testing.T) {
	t.Parallel()
	out := &s3.ListObjectVersionsOutput{Versions: []types.ObjectVersion{
		{Key: aws.String("b"), VersionId: aws.String("1")},
		{Key: aws.String("c"), VersionId: aws.String("1")},
	}}
	cases := []struct {
		name string
		req  ListRequest
		want []string
	}{
		{"range start", ListRequest{Versions: true, StartAfter: "b"}, []string{"c"}},
		{"continued page", ListRequest{Versions: true, StartAfter: "b", Next: PageMarker{Key: "a", VersionID: "9"}}, []string{"b", "c"}},
		{"from the start", ListRequest{Versions: true}, []string{"b", "c"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page, err := versionsPage(out, &tc.req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range page.Entries {
				got = append(got, e.Key)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("keys %v, want %v", got, tc.want)
			}
		})
	}
}
