package config

import (
	"testing"
	"time"
)

func TestLoadSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, value string
		want        time.Duration
		wantErr     bool
	}{
		{"default", "", 8 * time.Hour, false},
		{"off", "0", 0, false},
		{"seconds", "90", 90 * time.Second, false},
		{"negative", "-1", 0, true},
		{"not a number", "8h", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{}
			if tc.value != "" {
				vars["SESSION_IDLE_TIMEOUT"] = tc.value
			}
			c, err := Load(env(vars))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got no error, want one")
				}
				return
			}
			if err != nil || c.SessionIdleTimeout != tc.want {
				t.Errorf("got %s (%v), want %s", c.SessionIdleTimeout, err, tc.want)
			}
		})
	}
}
