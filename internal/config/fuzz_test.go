package config

import (
	"strings"
	"testing"
)

// urlMessages are the only things Load may say about a URL variable: a URL
// carries a password, so its value is never echoed.
var urlMessages = map[string]bool{
	"required":        true,
	"not a valid URL": true,
	"scheme must be one of postgres, postgresql": true,
	"scheme must be one of redis, rediss":        true,
	"scheme must be one of rediss, redis":        true,
}

func FuzzLoad(f *testing.F) {
	for i, v := range Variables {
		f.Add(uint8(i), v.Default)
		f.Add(uint8(i), "")
		f.Add(uint8(i), "not valid")
	}
	f.Add(uint8(0), "postgres://user:s3cret-pw@db.example.com:5432/app?sslmode=require")
	f.Add(uint8(0), "mysql://user:s3cret-pw@db.example.com/app")
	f.Add(uint8(1), "rediss://:s3cret-pw@redis.example.com:6380")
	f.Add(uint8(1), "http://user:s3cret-pw@[::1")
	f.Add(uint8(6), "TIERED")
	f.Add(uint8(5), "99999999999999999999")
	f.Add(uint8(13), "TZ=")
	f.Add(uint8(13), "CRON_TZ=Europe/Berlin")
	f.Add(uint8(13), "@every -1s")
	f.Fuzz(func(t *testing.T, index uint8, value string) {
		name := Variables[int(index)%len(Variables)].Name
		env := map[string]string{"DATABASE_URL": "postgres://127.0.0.1/app", name: value}
		c, err := Load(func(k string) string { return env[k] })
		if err == nil {
			if c.DatabaseURL == "" || c.Port < 0 || c.SessionLifetime <= 0 || c.LoginLimitWindow <= 0 {
				t.Fatalf("%s=%q: got an accepted config with missing values: %+v", name, value, c)
			}
			if _, err := ParseCron(c.AuditSweepCron); err != nil {
				t.Fatalf("%s=%q: accepted AUDIT_SWEEP_CRON %q that does not parse", name, value, c.AuditSweepCron)
			}
			return
		}
		msg := err.Error()
		prefix := "config: " + name + ": "
		if !strings.HasPrefix(msg, prefix) {
			t.Fatalf("%s=%q: got error %q, want it to name %s", name, value, msg, name)
		}
		if strings.HasSuffix(name, "_URL") && !urlMessages[strings.TrimPrefix(msg, prefix)] {
			t.Fatalf("%s=%q: got error %q, want one of the fixed messages (no echo of the URL)", name, value, msg)
		}
	})
}
