package deal

import (
	"strings"
	"testing"
)

func TestValidateEmail(t *testing.T) {
	t.Parallel()
	// 64 + 1 + 189 bytes: the longest address accepted.
	longest := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)
	cases := []struct {
		name, in, want, wantMsg string
	}{
		{"plain", "alice@example.com", "alice@example.com", ""},
		{"trimmed", "  alice@example.com\t", "alice@example.com", ""},
		{"plus and dots", "a.b+tag@mail.example.co.uk", "a.b+tag@mail.example.co.uk", ""},
		{"non-ascii", "josé@exámple.com", "josé@exámple.com", ""},
		{"no dot in domain", "root@localhost", "root@localhost", ""},
		{"empty", "", "", "Email is required."},
		{"blank", "   ", "", "Email is required."},
		{"300 characters", strings.Repeat("x", 288) + "@example.com", "", "Email is too long (at most 254 characters)."},
		{"254 characters", longest, longest, ""},
		{"255 characters", longest + "d", "", "Email is too long (at most 254 characters)."},
		{"nul", "a\x00b@example.com", "", "Email must not contain control characters."},
		{"escape", "a\x1b[31m@example.com", "", "Email must not contain control characters."},
		{"delete", "a\x7f@example.com", "", "Email must not contain control characters."},
		{"newline inside", "a@example.com\nBcc: x@evil.example", "", "Email must not contain control characters."},
		{"display name", "Alice <alice@example.com>", "", "Email must be a plain address such as name@example.com."},
		{"angle brackets", "<alice@example.com>", "", "Email must be a plain address such as name@example.com."},
		{"two addresses", "a@example.com,b@example.com", "", "Email must be a plain address such as name@example.com."},
		{"no at", "alice.example.com", "", "Email must be a plain address such as name@example.com."},
		{"nothing before at", "@example.com", "", "Email must be a plain address such as name@example.com."},
		{"nothing after at", "alice@", "", "Email must be a plain address such as name@example.com."},
		{"two ats", "a@b@example.com", "", "Email must be a plain address such as name@example.com."},
		{"quoted local part", `"a b"@example.com`, "", "Email must be a plain address such as name@example.com."},
		{"comment", "alice(x)@example.com", "", "Email must be a plain address such as name@example.com."},
		{"double dot", "a..b@example.com", "", "Email must be a plain address such as name@example.com."},
		{"leading dot", ".a@example.com", "", "Email must be a plain address such as name@example.com."},
		{"space", "a b@example.com", "", "Email must be a plain address such as name@example.com."},
		{"domain literal", "a@[127.0.0.1]", "", "Email must be a plain address such as name@example.com."},
		{"hyphen label", "a@-example.com", "", "Email must be a plain address such as name@example.com."},
		{"trailing dot", "a@example.com.", "", "Email must be a plain address such as name@example.com."},
		{"local part over 64", strings.Repeat("a", 65) + "@example.com", "", "Email must be a plain address such as name@example.com."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ValidateEmail(tc.in)
			if tc.wantMsg == "" {
				if err != nil || got != tc.want {
					t.Fatalf("ValidateEmail(%q): got %q, %v; want %q, nil", tc.in, got, err, tc.want)
				}
				return
			}
			if err == nil || ErrorCode(err) != EINVALID || ErrorMessage(err) != tc.wantMsg {
				t.Fatalf("ValidateEmail(%q): got %q, %v; want invalid_request %q", tc.in, got, err, tc.wantMsg)
			}
		})
	}
}

func TestValidateNames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, want, wantDealMsg, wantUserMsg string
	}{
		{"plain", "Atlas", "Atlas", "", ""},
		{"trimmed", "  Atlas  ", "Atlas", "", ""},
		{"trailing newline", "Atlas\n", "", "Deal name must not contain control characters.", "Name must not contain control characters."},
		{"blank", "   ", "", "Deal name is required.", ""},
		{"unicode", "Ünïcødé 北京 🚀", "Ünïcødé 北京 🚀", "", ""},
		{"200 wide characters", strings.Repeat("北", 200), strings.Repeat("北", 200), "", ""},
		{"empty", "", "", "Deal name is required.", ""},
		{"201 characters", strings.Repeat("x", 201), "", "Deal name must be at most 200 characters.", "Name must be at most 200 characters."},
		{"nul", "At\x00las", "", "Deal name must not contain control characters.", "Name must not contain control characters."},
		{"tab inside", "At\tlas", "", "Deal name must not contain control characters.", "Name must not contain control characters."},
		{"newline inside", "At\nlas", "", "Deal name must not contain control characters.", "Name must not contain control characters."},
		{"escape", "\x1b[2JAtlas", "", "Deal name must not contain control characters.", "Name must not contain control characters."},
		{"unit separator", "At\x1flas", "", "Deal name must not contain control characters.", "Name must not contain control characters."},
		{"delete", "At\x7flas", "", "Deal name must not contain control characters.", "Name must not contain control characters."},
		{"c1 control", "At\u0085las", "", "Deal name must not contain control characters.", "Name must not contain control characters."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, v := range []struct {
				fn      func(string) (string, error)
				what    string
				wantMsg string
			}{{ValidateDealName, "ValidateDealName", tc.wantDealMsg}, {ValidateUserName, "ValidateUserName", tc.wantUserMsg}} {
				got, err := v.fn(tc.in)
				if v.wantMsg == "" {
					want := tc.want
					if err != nil || got != want {
						t.Fatalf("%s(%q): got %q, %v; want %q, nil", v.what, tc.in, got, err, want)
					}
					continue
				}
				if err == nil || ErrorCode(err) != EINVALID || ErrorMessage(err) != v.wantMsg {
					t.Fatalf("%s(%q): got %q, %v; want invalid_request %q", v.what, tc.in, got, err, v.wantMsg)
				}
			}
		})
	}
}

func TestValidateLogin(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, email, password, wantMsg string
	}{
		{"ok", "alice@example.com", "secret", ""},
		{"unknown but well-formed is for the store to decide", "nobody", "secret", ""},
		{"no email", "", "secret", "Email and password are required."},
		{"no password", "alice@example.com", "", "Email and password are required."},
		{"300-character email", strings.Repeat("x", 288) + "@example.com", "secret", "Email is too long (at most 254 characters)."},
		{"long password", "alice@example.com", strings.Repeat("p", 1025), "Password is too long (at most 1024 characters)."},
		{"nul in the email (a form sign-in)", "alice@example.com\x00", "secret", "Email must not contain control characters."},
		{"escape in the email", "alice\x1b@example.com", "secret", "Email must not contain control characters."},
		{"nul in the password (a form sign-in)", "alice@example.com", "sec\x00ret", "Password must not contain the NUL character."},
		{"other control characters in a password are the user's business", "alice@example.com", "sec\tret\x1b", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateLogin(tc.email, tc.password)
			if tc.wantMsg == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if ErrorCode(err) != EINVALID || ErrorMessage(err) != tc.wantMsg {
				t.Fatalf("got %v, want invalid_request %q", err, tc.wantMsg)
			}
		})
	}
}
