// The rest of this package is golang.org/x/net/publicsuffix, copied by gen.go less the
// declaration that imports net/http/cookiejar; list_test.go checks every rule against it.
//go:generate go run gen.go

package publicsuffix
