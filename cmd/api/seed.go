package main

import (
	"context"
	"fmt"
	"io"

	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/postgres"
)

// demoPassword is the password of every demo user; demo data is for local use.
const demoPassword = "demo-password"

type demoUser struct {
	email, name string
	admin       bool
}

var demoUsers = []demoUser{
	{"admin@example.com", "Ada Admin", true},
	{"alice@example.com", "Alice Owner", false},
	{"bob@example.com", "Bob Member", false},
}

// demoDeals: name, owner, members.
var demoDeals = []struct {
	name, owner string
	members     []string
}{
	{"Project Atlas", "alice@example.com", []string{"bob@example.com"}},
	{"Project Borealis", "alice@example.com", nil},
	{"Project Cygnus", "bob@example.com", []string{"alice@example.com"}},
}

func runSeedDemo(ctx context.Context, db *postgres.DB, cfg config.Config, stdout io.Writer) error {
	hasher := auth.NewHasher(cfg.Argon2MemoryKiB, cfg.Argon2Time)
	ids := map[string]int64{}
	for _, u := range demoUsers {
		hash, err := hasher.Hash(demoPassword)
		if err != nil {
			return err
		}
		got, err := db.UpsertUser(ctx, u.email, u.name, hash, u.admin)
		if err != nil {
			return fmt.Errorf("seed-demo: %w", err)
		}
		ids[u.email] = got.ID
	}
	for _, d := range demoDeals {
		var members []int64
		for _, m := range d.members {
			members = append(members, ids[m])
		}
		if err := db.EnsureDemoDeal(ctx, d.name, ids[d.owner], members); err != nil {
			return fmt.Errorf("seed-demo: %w", err)
		}
	}
	fmt.Fprintln(stdout, "Demo logins (password for all: "+demoPassword+"):")
	for _, u := range demoUsers {
		role := ""
		if u.admin {
			role = " (admin)"
		}
		fmt.Fprintf(stdout, "  %s%s\n", u.email, role)
	}
	return nil
}
