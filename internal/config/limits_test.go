package config

import (
	"strings"
	"testing"
	"time"
)

// TestLoadClientIPAndMemberLookupSettings covers TRUSTED_PROXY_HOPS and the
// member lookup limit: defaults, values, and refusals that name the variable.
func TestLoadClientIPAndMemberLookupSettings(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.TrustedProxyHops != 1 || c.MemberLookupLimit != 10 || c.MemberLookupWindow != time.Hour {
		t.Errorf("defaults: got hops %d, limit %d, window %s; want 1, 10, 1h0m0s", c.TrustedProxyHops, c.MemberLookupLimit, c.MemberLookupWindow)
	}
	c, err = Load(env(map[string]string{"TRUSTED_PROXY_HOPS": "0", "MEMBER_LOOKUP_LIMIT": "3", "MEMBER_LOOKUP_WINDOW": "60"}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.TrustedProxyHops != 0 || c.MemberLookupLimit != 3 || c.MemberLookupWindow != time.Minute {
		t.Errorf("values: got hops %d, limit %d, window %s; want 0, 3, 1m0s", c.TrustedProxyHops, c.MemberLookupLimit, c.MemberLookupWindow)
	}
	for _, bad := range []struct{ variable, value string }{
		{"TRUSTED_PROXY_HOPS", "-1"},
		{"TRUSTED_PROXY_HOPS", "one"},
		{"MEMBER_LOOKUP_LIMIT", "0"},
		{"MEMBER_LOOKUP_LIMIT", "ten"},
		{"MEMBER_LOOKUP_WINDOW", "0"},
		{"MEMBER_LOOKUP_WINDOW", "1h"},
	} {
		_, err := Load(env(map[string]string{bad.variable: bad.value}))
		if err == nil || !strings.Contains(err.Error(), bad.variable+":") {
			t.Errorf("Load with %s=%q: got %v, want an error naming %s", bad.variable, bad.value, err, bad.variable)
		}
	}
}
