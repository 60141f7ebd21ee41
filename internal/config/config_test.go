package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// env returns a getenv over vars, with a valid DATABASE_URL unless vars
// sets one.
func env(vars map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		if k == "DATABASE_URL" {
			return "postgres://app:db-secret-pw@db.example.com:5432/app?sslmode=require"
		}
		return ""
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"DatabaseURL", c.DatabaseURL, "postgres://app:db-secret-pw@db.example.com:5432/app?sslmode=require"},
		{"RedisURL", c.RedisURL, ""},
		{"RedisInsecureTLS", c.RedisInsecureTLS, false},
		{"RedisKeyPrefix", c.RedisKeyPrefix, "dealctx:"},
		{"Port", c.Port, 8080},
		{"SessionStore", c.SessionStore, StoreAuto},
		{"SessionLifetime", c.SessionLifetime, 604800 * time.Second},
		{"RememberDuration", c.RememberDuration, 2592000 * time.Second},
		{"AutoRestoreDeal", c.AutoRestoreDeal, true},
		{"CookieSecure", c.CookieSecure, true},
		{"SessionCleanupCron", c.SessionCleanupCron, "*/15 * * * *"},
		{"PruneStaleDealsCron", c.PruneStaleDealsCron, "0 * * * *"},
		{"AuditSweepCron", c.AuditSweepCron, "@every 15s"},
		{"LogLevel", c.LogLevel, slog.LevelInfo},
		{"LogFormat", c.LogFormat, "json"},
		{"WorkerMetricsPort", c.WorkerMetricsPort, 9090},
		{"ShutdownTimeout", c.ShutdownTimeout, 20 * time.Second},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadParsesValues(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{
		"PORT":                           "3000",
		"SESSION_STORE":                  "Postgres",
		"PERMANENT_SESSION_LIFETIME":     "3600",
		"REMEMBER_COOKIE_DURATION":       "86400",
		"AUTO_RESTORE_DEAL":              "false",
		"COOKIE_SECURE":                  "0",
		"REDIS_TLS_INSECURE_SKIP_VERIFY": "true",
		"SESSION_CLEANUP_CRON":           "@every 1m",
		"LOG_LEVEL":                      "DEBUG",
		"LOG_FORMAT":                     "text",
		"SHUTDOWN_TIMEOUT":               "25",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Port", c.Port, 3000},
		{"SessionStore", c.SessionStore, StorePostgres},
		{"SessionLifetime", c.SessionLifetime, time.Hour},
		{"RememberDuration", c.RememberDuration, 24 * time.Hour},
		{"AutoRestoreDeal", c.AutoRestoreDeal, false},
		{"CookieSecure", c.CookieSecure, false},
		{"RedisInsecureTLS", c.RedisInsecureTLS, true},
		{"SessionCleanupCron", c.SessionCleanupCron, "@every 1m"},
		{"LogLevel", c.LogLevel, slog.LevelDebug},
		{"LogFormat", c.LogFormat, "text"},
		{"ShutdownTimeout", c.ShutdownTimeout, 25 * time.Second},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadRedisURLs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"neither", nil, ""},
		{"plain only", map[string]string{"REDIS_URL": "redis://cache:6379/0"}, "redis://cache:6379/0"},
		{"tls only", map[string]string{"REDIS_TLS_URL": "rediss://:pw@cache:6380"}, "rediss://:pw@cache:6380"},
		{"tls wins over plain", map[string]string{"REDIS_URL": "redis://plain:6379", "REDIS_TLS_URL": "rediss://secure:6380"}, "rediss://secure:6380"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(env(tc.vars))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.RedisURL != tc.want {
				t.Errorf("RedisURL: got %q, want %q", c.RedisURL, tc.want)
			}
		})
	}
}

func TestLoadMigrateDatabaseURL(t *testing.T) {
	t.Parallel()
	direct := "postgres://app:pw@db-direct:5432/app"
	for name, tc := range map[string]struct {
		vars map[string]string
		want string
	}{
		"falls back to DATABASE_URL": {nil, "postgres://app:db-secret-pw@db.example.com:5432/app?sslmode=require"},
		"set":                        {map[string]string{"MIGRATE_DATABASE_URL": direct}, direct},
	} {
		c, err := Load(env(tc.vars))
		if err != nil {
			t.Fatalf("%s: Load: %v", name, err)
		}
		if c.MigrateDatabaseURL != tc.want {
			t.Errorf("%s: MigrateDatabaseURL: got %q, want %q", name, c.MigrateDatabaseURL, tc.want)
		}
	}
}

func TestLoadRefusesBadValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, variable, value string
		secret                string // must not appear in the error
	}{
		{"database url missing", "DATABASE_URL", "", ""},
		{"database url not a url", "DATABASE_URL", "db-secret-pw", "db-secret-pw"},
		{"database url bad escape", "DATABASE_URL", "postgres://app:db%zzsecret@db:5432/app", "zzsecret"},
		{"database url wrong scheme", "DATABASE_URL", "mysql://app:db-secret-pw@db/app", "db-secret-pw"},
		{"redis url wrong scheme", "REDIS_URL", "http://:redis-secret-pw@cache:6379", "redis-secret-pw"},
		{"redis url no host", "REDIS_URL", "redis://:redis-secret-pw@", "redis-secret-pw"},
		{"redis tls url bad", "REDIS_TLS_URL", "rediss://:tls%zzsecret@cache:6380", "zzsecret"},
		{"port not a number", "PORT", "eighty", ""},
		{"port out of range", "PORT", "70000", ""},
		{"session lifetime not a number", "PERMANENT_SESSION_LIFETIME", "1w", ""},
		{"session lifetime zero", "PERMANENT_SESSION_LIFETIME", "0", ""},
		{"remember duration negative", "REMEMBER_COOKIE_DURATION", "-5", ""},
		{"shutdown timeout not a number", "SHUTDOWN_TIMEOUT", "20s", ""},
		{"worker metrics port", "WORKER_METRICS_PORT", "x", ""},
		{"unknown session store", "SESSION_STORE", "memcached", ""},
		{"bad bool auto restore", "AUTO_RESTORE_DEAL", "yes please", ""},
		{"bad bool cookie secure", "COOKIE_SECURE", "maybe", ""},
		{"bad bool tls skip verify", "REDIS_TLS_INSECURE_SKIP_VERIFY", "sure", ""},
		{"bad cron session cleanup", "SESSION_CLEANUP_CRON", "every quarter hour", ""},
		{"bad cron prune", "PRUNE_STALE_DEALS_CRON", "61 * * * *", ""},
		{"bad cron audit sweep", "AUDIT_SWEEP_CRON", "@every", ""},
		{"bad log level", "LOG_LEVEL", "loud", ""},
		{"bad log format", "LOG_FORMAT", "xml", ""},
		{"argon2 memory too small", "ARGON2_MEMORY_KIB", "1", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(env(map[string]string{tc.variable: tc.value}))
			if err == nil {
				t.Fatalf("Load with %s=%q: got no error, want one naming %s", tc.variable, tc.value, tc.variable)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.variable+":") {
				t.Errorf("error: got %q, want it to name %s", msg, tc.variable)
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error: got %q, want one line", msg)
			}
			if tc.secret != "" && strings.Contains(msg, tc.secret) {
				t.Errorf("error: got %q, which contains the secret %q", msg, tc.secret)
			}
			if strings.Contains(msg, "db-secret-pw") {
				t.Errorf("error: got %q, which contains the default DATABASE_URL's password", msg)
			}
		})
	}
}

func TestVariablesListsEveryVariableLoadReads(t *testing.T) {
	t.Parallel()
	listed := map[string]bool{}
	for _, v := range Variables {
		listed[v.Name] = true
	}
	read := map[string]bool{}
	_, _ = Load(func(k string) string {
		read[k] = true
		return env(nil)(k)
	})
	for k := range read {
		if !listed[k] {
			t.Errorf("Load reads %s, which Variables (the --help list) does not name", k)
		}
	}
	for k := range listed {
		if !read[k] {
			t.Errorf("Variables names %s, which Load never reads", k)
		}
	}
}
