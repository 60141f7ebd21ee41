// Package config reads and checks every environment variable the processes
// use, in one place, so a bad value stops the process at start.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Session store modes.
const (
	StoreAuto     = "auto"
	StoreTiered   = "tiered"
	StoreRedis    = "redis"
	StorePostgres = "postgres"
)

// Redis topologies: one server (REDIS_URL), Sentinel-managed failover, or a
// cluster.
const (
	TopologySingle   = "single"
	TopologySentinel = "sentinel"
	TopologyCluster  = "cluster"
)

// Config is the parsed environment. Every field has been validated.
type Config struct {
	DatabaseURL         string
	RedisURL            string // REDIS_TLS_URL when set, else REDIS_URL; may be empty
	RedisInsecureTLS    bool
	RedisKeyPrefix      string
	Port                int
	SessionStore        string
	SessionLifetime     time.Duration
	RememberDuration    time.Duration
	AutoRestoreDeal     bool
	CookieSecure        bool
	SessionCleanupCron  string
	PruneStaleDealsCron string
	AuditSweepCron      string
	LogLevel            slog.Level
	LogFormat           string
	WorkerMetricsPort   int
	Argon2MemoryKiB     uint32
	Argon2Time          uint32
	// PasswordHashConcurrency is how many password hashes one process runs
	// at once (argon2 allocates ARGON2_MEMORY_KIB for each).
	PasswordHashConcurrency int
	// ShutdownDrain is how long the api keeps serving after SIGTERM or
	// SIGINT while /readyz answers 503, before it stops accepting.
	ShutdownDrain       time.Duration
	ShutdownTimeout     time.Duration
	RememberGraceWindow time.Duration
	LoginAccountLimit   int
	LoginIPLimit        int
	LoginLimitWindow    time.Duration

	// MigrateDatabaseURL is what `api migrate` connects to:
	// MIGRATE_DATABASE_URL, else DatabaseURL (a direct connection when
	// DATABASE_URL points at a pooler).
	MigrateDatabaseURL string
	// SessionIdleTimeout ends a session unused this long; 0 turns it off.
	SessionIdleTimeout time.Duration
	// SessionCodecGob makes the api write sessions in scs's gob format
	// (SESSION_CODEC=gob), which releases before the compact codec read: the
	// first step of a two-step upgrade that keeps a rollback safe.
	SessionCodecGob bool
	// TrustedProxyHops is how many X-Forwarded-For hops, counted from the
	// right, were appended by proxies we trust; 0 means use the peer address.
	TrustedProxyHops int
	// MemberLookupLimit is how many unknown-email member additions one user
	// may make per MemberLookupWindow.
	MemberLookupLimit  int
	MemberLookupWindow time.Duration

	// RedisTopology is TopologySingle, TopologySentinel (RedisSentinelAddrs
	// and RedisSentinelMaster set) or TopologyCluster (RedisClusterAddrs set).
	RedisTopology         string
	RedisSentinelAddrs    []string
	RedisSentinelMaster   string
	RedisSentinelPassword string
	RedisClusterAddrs     []string
}

// RedisConfigured reports whether any Redis (single, Sentinel or Cluster) is
// configured.
func (c Config) RedisConfigured() bool {
	return c.RedisURL != "" || c.RedisTopology != TopologySingle
}

// Variable describes one environment variable for --help.
type Variable struct {
	Name, Default, Meaning string
	// ReadBy is the set of processes that read the variable.
	ReadBy Process
}

// Process is a set of the programs that read configuration.
type Process uint8

// The processes; a variable both read is ProcAPI|ProcWorker.
const (
	ProcAPI Process = 1 << iota
	ProcWorker
)

// Variables lists every variable Load reads, with its default.
var Variables = []Variable{
	{"DATABASE_URL", "(required)", "PostgreSQL URL; sslmode honoured", ProcAPI | ProcWorker},
	{"REDIS_URL", "", "Redis URL (redis:// or rediss://)", ProcAPI | ProcWorker},
	{"REDIS_TLS_URL", "", "Redis TLS URL; wins over REDIS_URL", ProcAPI | ProcWorker},
	{"REDIS_TLS_INSECURE_SKIP_VERIFY", "false", "skip TLS verification (self-signed provider certificates)", ProcAPI | ProcWorker},
	{"REDIS_KEY_PREFIX", "dealctx:", "prefix of the api's Redis keys", ProcAPI},
	{"PORT", "8080", "HTTP port", ProcAPI | ProcWorker},
	{"SESSION_STORE", "auto", "auto, tiered, redis or postgres", ProcAPI},
	{"PERMANENT_SESSION_LIFETIME", "604800", "session lifetime, seconds", ProcAPI},
	{"REMEMBER_COOKIE_DURATION", "2592000", "remember-me lifetime, seconds", ProcAPI},
	{"AUTO_RESTORE_DEAL", "true", "restore the last deal into sessions that lack it", ProcAPI},
	{"COOKIE_SECURE", "true", "Secure attribute on cookies", ProcAPI},
	{"SESSION_CLEANUP_CRON", "*/15 * * * *", "worker schedule for session cleanup", ProcWorker},
	{"PRUNE_STALE_DEALS_CRON", "0 * * * *", "worker schedule for pruning stale last deals", ProcWorker},
	{"AUDIT_SWEEP_CRON", "@every 15s", "worker schedule for the audit outbox sweep", ProcWorker},
	{"LOG_LEVEL", "info", "debug, info, warn or error", ProcAPI | ProcWorker},
	{"LOG_FORMAT", "json", "json or text", ProcAPI | ProcWorker},
	{"WORKER_METRICS_PORT", "(PORT+1010)", "worker's /metrics port (0 disables)", ProcWorker},
	{"ARGON2_MEMORY_KIB", "19456", "argon2id memory cost (OWASP: 19456)", ProcAPI},
	{"ARGON2_TIME", "2", "argon2id iterations (OWASP: 2)", ProcAPI},
	{"SHUTDOWN_TIMEOUT", "20", "graceful shutdown budget, seconds", ProcAPI | ProcWorker},
	{"SHUTDOWN_DRAIN", "5", "seconds the api keeps serving after SIGTERM/SIGINT while /readyz answers 503, before it stops accepting", ProcAPI},
	{"PASSWORD_HASH_CONCURRENCY", "(CPUs, 1-8)", "password hashes one process runs at once; a request beyond it waits up to 2 s, then 503", ProcAPI},
	{"LOGIN_ACCOUNT_LIMIT", "5", "failed sign-ins per account per window", ProcAPI},
	{"LOGIN_IP_LIMIT", "50", "failed sign-ins per client IP per window", ProcAPI},
	{"LOGIN_LIMIT_WINDOW", "900", "failed sign-in window, seconds", ProcAPI},
	{"MIGRATE_DATABASE_URL", "(DATABASE_URL)", "PostgreSQL URL for api migrate (a direct connection when DATABASE_URL is a pooler)", ProcAPI},
	{"SESSION_IDLE_TIMEOUT", "28800", "seconds without a request after which a session ends; 0 turns it off", ProcAPI},
	{"SESSION_CODEC", "compact", "compact, or gob to write sessions older releases can read (both are always read)", ProcAPI},
	{"TRUSTED_PROXY_HOPS", "1", "X-Forwarded-For hops appended by trusted proxies; 0 uses the connection's address", ProcAPI},
	{"MEMBER_LOOKUP_LIMIT", "10", "unknown-email member additions per user per window", ProcAPI},
	{"MEMBER_LOOKUP_WINDOW", "3600", "unknown-email member addition window, seconds", ProcAPI},
	{"REDIS_SENTINEL_ADDRS", "", "comma-separated host:port of Redis Sentinels", ProcAPI | ProcWorker},
	{"REDIS_SENTINEL_MASTER", "", "the Sentinel-monitored master's name", ProcAPI | ProcWorker},
	{"REDIS_SENTINEL_PASSWORD", "", "password for the Sentinels", ProcAPI | ProcWorker},
	{"REDIS_CLUSTER_ADDRS", "", "comma-separated seed nodes of a Redis Cluster", ProcAPI | ProcWorker},
}

// Load reads the environment through getenv and validates it. The error names
// the offending variable and never contains a secret.
func Load(getenv func(string) string) (Config, error) {
	p := parser{getenv: getenv}
	c := Config{
		DatabaseURL:             p.url("DATABASE_URL", true, "postgres", "postgresql"),
		RedisInsecureTLS:        p.boolean("REDIS_TLS_INSECURE_SKIP_VERIFY", false),
		RedisKeyPrefix:          p.str("REDIS_KEY_PREFIX", "dealctx:"),
		Port:                    p.integer("PORT", 8080, 0, 65535),
		SessionStore:            p.oneOf("SESSION_STORE", StoreAuto, StoreAuto, StoreTiered, StoreRedis, StorePostgres),
		SessionLifetime:         p.seconds("PERMANENT_SESSION_LIFETIME", 604800),
		RememberDuration:        p.seconds("REMEMBER_COOKIE_DURATION", 2592000),
		AutoRestoreDeal:         p.boolean("AUTO_RESTORE_DEAL", true),
		CookieSecure:            p.boolean("COOKIE_SECURE", true),
		SessionCleanupCron:      p.cron("SESSION_CLEANUP_CRON", "*/15 * * * *"),
		PruneStaleDealsCron:     p.cron("PRUNE_STALE_DEALS_CRON", "0 * * * *"),
		AuditSweepCron:          p.cron("AUDIT_SWEEP_CRON", "@every 15s"),
		LogLevel:                p.level("LOG_LEVEL"),
		LogFormat:               p.oneOf("LOG_FORMAT", "json", "json", "text"),
		WorkerMetricsPort:       p.integer("WORKER_METRICS_PORT", 9090, 0, 65535),
		Argon2MemoryKiB:         uint32(p.integer("ARGON2_MEMORY_KIB", 19456, 8, 4<<20)),
		Argon2Time:              uint32(p.integer("ARGON2_TIME", 2, 1, 100)),
		ShutdownTimeout:         p.seconds("SHUTDOWN_TIMEOUT", 20),
		ShutdownDrain:           time.Duration(p.integer("SHUTDOWN_DRAIN", 5, 0, 25)) * time.Second,
		PasswordHashConcurrency: p.integer("PASSWORD_HASH_CONCURRENCY", min(max(runtime.NumCPU(), 1), 8), 1, 1024),
		RememberGraceWindow:     60 * time.Second,
		LoginAccountLimit:       p.integer("LOGIN_ACCOUNT_LIMIT", 5, 1, 1_000_000),
		LoginIPLimit:            p.integer("LOGIN_IP_LIMIT", 50, 1, 1_000_000),
		LoginLimitWindow:        p.seconds("LOGIN_LIMIT_WINDOW", 900),
		SessionIdleTimeout:      time.Duration(p.integer("SESSION_IDLE_TIMEOUT", 28800, 0, 10*365*24*3600)) * time.Second,
		SessionCodecGob:         p.oneOf("SESSION_CODEC", "compact", "compact", "gob") == "gob",
		TrustedProxyHops:        p.integer("TRUSTED_PROXY_HOPS", 1, 0, 10),
		MemberLookupLimit:       p.integer("MEMBER_LOOKUP_LIMIT", 10, 1, 1_000_000),
		MemberLookupWindow:      p.seconds("MEMBER_LOOKUP_WINDOW", 3600),
		RedisSentinelAddrs:      p.addrs("REDIS_SENTINEL_ADDRS"),
		RedisSentinelMaster:     p.str("REDIS_SENTINEL_MASTER", ""),
		RedisClusterAddrs:       p.addrs("REDIS_CLUSTER_ADDRS"),
		RedisTopology:           TopologySingle,
	}
	c.RedisSentinelPassword = strings.TrimSpace(getenv("REDIS_SENTINEL_PASSWORD"))
	c.MigrateDatabaseURL = p.url("MIGRATE_DATABASE_URL", false, "postgres", "postgresql")
	if c.MigrateDatabaseURL == "" {
		c.MigrateDatabaseURL = c.DatabaseURL
	}
	switch {
	case len(c.RedisSentinelAddrs) > 0 && len(c.RedisClusterAddrs) > 0:
		p.fail("REDIS_CLUSTER_ADDRS", "set either REDIS_SENTINEL_ADDRS or REDIS_CLUSTER_ADDRS, not both")
	case len(c.RedisSentinelAddrs) > 0:
		if c.RedisSentinelMaster == "" {
			p.fail("REDIS_SENTINEL_MASTER", "required with REDIS_SENTINEL_ADDRS")
		}
		c.RedisTopology = TopologySentinel
	case c.RedisSentinelMaster != "":
		p.fail("REDIS_SENTINEL_MASTER", "needs REDIS_SENTINEL_ADDRS")
	case len(c.RedisClusterAddrs) > 0:
		c.RedisTopology = TopologyCluster
	}
	if u := p.url("REDIS_TLS_URL", false, "rediss", "redis"); u != "" {
		c.RedisURL = u
	} else {
		c.RedisURL = p.url("REDIS_URL", false, "redis", "rediss")
	}
	if p.err != nil {
		return Config{}, p.err
	}
	return c, nil
}

// parser keeps the first error so Load reads as a list of fields.
type parser struct {
	getenv func(string) string
	err    error
}

func (p *parser) fail(name, format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("config: %s: %s", name, fmt.Sprintf(format, args...))
	}
}

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

func (p *parser) integer(name string, def, min, max int) int {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		p.fail(name, "want a whole number from %d to %d", min, max)
		return def
	}
	return n
}

func (p *parser) seconds(name string, def int) time.Duration {
	return time.Duration(p.integer(name, def, 1, 10*365*24*3600)) * time.Second
}

func (p *parser) boolean(name string, def bool) bool {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(name, "want true or false")
		return def
	}
	return b
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(strings.TrimSpace(p.getenv(name)))
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail(name, "want one of %s", strings.Join(allowed, ", "))
	return def
}

func (p *parser) level(name string) slog.Level {
	switch strings.ToLower(strings.TrimSpace(p.getenv(name))) {
	case "", "info":
		return slog.LevelInfo
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	p.fail(name, "want debug, info, warn or error")
	return slog.LevelInfo
}

// cronParser accepts the five-field syntax and descriptors such as @every 30s.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron parses a schedule in the syntax the worker accepts. It never
// panics: robfig/cron v3.0.1 does on some inputs (such as "TZ=" with no
// schedule after it), and those are errors here.
func ParseCron(spec string) (sched cron.Schedule, err error) {
	defer func() {
		if recover() != nil {
			sched, err = nil, errors.New("malformed schedule")
		}
	}()
	return cronParser.Parse(spec)
}

func (p *parser) cron(name, def string) string {
	v := p.str(name, def)
	if _, err := ParseCron(v); err != nil {
		p.fail(name, "not a valid cron schedule")
		return def
	}
	return v
}

// addrs parses a comma-separated list of host:port addresses; empty is nil.
func (p *parser) addrs(name string) []string {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return nil
	}
	var out []string
	for _, a := range strings.Split(v, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			p.fail(name, "want comma-separated host:port addresses")
			return nil
		}
		out = append(out, a)
	}
	return out
}

// url checks a URL's shape without ever echoing it: URLs carry passwords.
func (p *parser) url(name string, required bool, schemes ...string) string {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		if required {
			p.fail(name, "required")
		}
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" && u.Scheme != "postgres" && u.Scheme != "postgresql" {
		p.fail(name, "not a valid URL")
		return ""
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return v
		}
	}
	p.fail(name, "scheme must be one of %s", strings.Join(schemes, ", "))
	return ""
}
