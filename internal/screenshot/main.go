// Command screenshot walks the README's "Try it" story in headless Chromium
// against a running dealctx (make dev's demo data) and saves the deal page
// as a PNG: Alice signs in, opens Project Atlas, signs out, and signs in
// again, landing back in Atlas. deploy/dev/screenshot.sh runs it.
//
//	go run ./internal/screenshot -url http://localhost:8080 -out docs/deal-page.png
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/chromedp/chromedp"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "screenshot:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("screenshot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", "http://localhost:8080", "the running api")
	out := fs.String("out", "docs/deal-page.png", "where to write the PNG")
	email := fs.String("email", "alice@example.com", "the demo user")
	password := fs.String("password", "demo-password", "the demo user's password")
	deal := fs.String("deal", "Project Atlas", "the deal to open")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bin := getenv("CHROMIUM_BIN")
	if bin == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				bin = p
				break
			}
		}
	}
	if bin == "" {
		return errors.New("no chromium on PATH and CHROMIUM_BIN unset")
	}
	dir, err := os.MkdirTemp("", "dealctx-screenshot-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.UserDataDir(dir), chromedp.WindowSize(1280, 800))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	tctx, cancelT := context.WithTimeout(bctx, 60*time.Second)
	defer cancelT()

	signIn := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(*base + "/"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), *email),
		chromedp.SendKeys(chromedp.ID("password"), *password),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("h1")),
	}
	steps := append([]chromedp.Action[chromedp.Void]{}, signIn...)
	steps = append(steps,
		chromedp.Navigate(*base+"/deals"),
		chromedp.Click(chromedp.Search(fmt.Sprintf(`//a[contains(@class,"deal")][.//span[normalize-space(.)=%q]]`, *deal))),
		chromedp.WaitVisible(chromedp.CSS("#members-heading")),
		chromedp.Click(chromedp.CSS(`[data-action="logout"]`)),
		chromedp.WaitVisible(chromedp.ID("login-form")),
	)
	steps = append(steps, signIn...)
	steps = append(steps, chromedp.WaitVisible(chromedp.CSS(".welcome")), chromedp.EmulateViewport(1280, 800))
	if err := chromedp.Do(tctx, steps...); err != nil {
		return fmt.Errorf("walk the story: %w", err)
	}
	png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)) // 100 is PNG; less is JPEG
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	if err := os.WriteFile(*out, png, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "screenshot: wrote %s\n", *out)
	return nil
}
