package config

import (
	"strings"
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

func TestLoadSessionCodec(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value   string
		wantGob bool
		wantErr bool
	}{{"", false, false}, {"compact", false, false}, {"gob", true, false}, {"GOB", true, false}, {"json", false, true}} {
		t.Run("value "+tc.value, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{}
			if tc.value != "" {
				vars["SESSION_CODEC"] = tc.value
			}
			c, err := Load(env(vars))
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "SESSION_CODEC") {
					t.Fatalf("got %v, want an error naming SESSION_CODEC", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.SessionCodecGob != tc.wantGob {
				t.Errorf("SessionCodecGob: got %v, want %v", c.SessionCodecGob, tc.wantGob)
			}
		})
	}
}
