package bench

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Machine describes the computer a run measured.
type Machine struct {
	CPUs      int
	CPUModel  string
	MemoryGiB float64
	GoVersion string
	Kernel    string
}

// ThisMachine reads the machine's description from the runtime and /proc.
func ThisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), CPUModel: "unknown"}
	if v, ok := procField("/proc/cpuinfo", "model name"); ok {
		m.CPUModel = v
	}
	if v, ok := procField("/proc/meminfo", "MemTotal"); ok {
		kib, _ := strconv.ParseFloat(strings.TrimSuffix(v, " kB"), 64)
		m.MemoryGiB = kib / (1 << 20)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// String is the machine on one line.
func (m Machine) String() string {
	return fmt.Sprintf("%d CPUs (nproc), %s, %.1f GiB memory, %s, Linux %s", m.CPUs, m.CPUModel, m.MemoryGiB, m.GoVersion, m.Kernel)
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// Memory is a process's resident set: now (VmRSS) and its peak (VmHWM), in
// MiB, read from /proc/PID/status.
type Memory struct{ RSS, Peak float64 }

// ProcessMemory reads pid's resident set sizes.
func ProcessMemory(pid int) (Memory, error) {
	path := "/proc/" + strconv.Itoa(pid) + "/status"
	var m Memory
	for key, dst := range map[string]*float64{"VmRSS": &m.RSS, "VmHWM": &m.Peak} {
		v, ok := procField(path, key)
		if !ok {
			return Memory{}, fmt.Errorf("%s: no %s", path, key)
		}
		kib, err := strconv.ParseFloat(strings.TrimSuffix(v, " kB"), 64)
		if err != nil {
			return Memory{}, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		*dst = kib / 1024
	}
	return m, nil
}

// Table is a Markdown table.
type Table struct {
	Header []string
	Rows   [][]string
}

// Add appends a row.
func (t *Table) Add(cells ...string) { t.Rows = append(t.Rows, cells) }

// String renders the table in GitHub Markdown.
func (t *Table) String() string {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + strings.ReplaceAll(c, "|", `\|`) + " |")
		}
		b.WriteString("\n")
	}
	line(t.Header)
	sep := make([]string, len(t.Header))
	for i := range sep {
		sep[i] = "---"
	}
	line(sep)
	for _, r := range t.Rows {
		line(r)
	}
	return b.String()
}

// Ms formats a duration in milliseconds with two decimals.
func Ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// PerSecond formats a rate.
func PerSecond(r float64) string { return fmt.Sprintf("%.0f/s", r) }

// Ratio formats a/b, or "–" when b is zero.
func Ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// RoundSpread describes the ratios a[i]/b[i] of two servers measured in the
// same rounds: their median and range, so that a reader sees how far one
// round of this machine strays from the pooled ratio, and, over three rounds
// or more, the 95 % confidence interval of their mean (Student's t), so
// that a pooled ratio a hundredth from its target reads as what it is: a
// difference this many rounds can or cannot tell apart.
func RoundSpread(a, b []float64) string {
	var r []float64
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			r = append(r, a[i]/b[i])
		}
	}
	if len(r) == 0 {
		return "–"
	}
	slices.Sort(r)
	median := r[len(r)/2]
	if len(r)%2 == 0 {
		median = (r[len(r)/2-1] + r[len(r)/2]) / 2
	}
	s := fmt.Sprintf("median %.2f, %.2f to %.2f over %d", median, r[0], r[len(r)-1], len(r))
	if len(r) < 3 {
		return s
	}
	var mean, ss float64
	for _, x := range r {
		mean += x
	}
	mean /= float64(len(r))
	for _, x := range r {
		ss += (x - mean) * (x - mean)
	}
	half := t975(len(r)-1) * math.Sqrt(ss/float64(len(r)-1)/float64(len(r)))
	return s + fmt.Sprintf("; mean %.2f, 95 %% interval %.2f to %.2f", mean, mean-half, mean+half)
}

// t975 is the 0.975 quantile of Student's t distribution with df ≥ 1
// degrees of freedom: the half-width factor of a two-sided 95 % interval.
// Past 30 it stays at 30's value, a little wider than the true one.
func t975(df int) float64 {
	table := [...]float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	return table[min(df, len(table))-1]
}

// Verdict is "met" or "MISSED".
func Verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**MISSED**"
}

// ProcessCPU returns the user+sys CPU time the process has used so far,
// from /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s, the
// value on Linux for every architecture this runs on).
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields resume after ")".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks int64
	for _, v := range f[11:13] { // utime, stime: fields 14 and 15 overall
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// MachineCPU is CPU time the whole machine and the services a request
// reaches have used so far: the load generator (this process), every
// PostgreSQL process, every Redis server, and the machine as a whole (busy
// time from /proc/stat, all CPUs). Subtracting two readings gives what a
// run cost on each side.
type MachineCPU struct {
	LoadGen, Postgres, Redis, Busy time.Duration
}

// ReadMachineCPU takes a MachineCPU reading from /proc.
func ReadMachineCPU() (MachineCPU, error) {
	var m MachineCPU
	var err error
	if m.LoadGen, err = ProcessCPU(os.Getpid()); err != nil {
		return m, err
	}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return m, err
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + d.Name() + "/comm")
		if err != nil {
			continue // gone since the listing
		}
		var into *time.Duration
		switch strings.TrimSpace(string(comm)) {
		case "postgres":
			into = &m.Postgres
		case "redis-server":
			into = &m.Redis
		default:
			continue
		}
		if c, err := ProcessCPU(pid); err == nil {
			*into += c
		}
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return m, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(first) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return m, fmt.Errorf("/proc/stat: unexpected first line %q", first)
	}
	var busy int64
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return m, fmt.Errorf("/proc/stat: %w", err)
		}
		if i != 3 && i != 4 { // idle and iowait are not busy
			busy += n
		}
	}
	m.Busy = time.Duration(busy) * 10 * time.Millisecond
	return m, nil
}

// Sub is m minus an earlier reading.
func (m MachineCPU) Sub(o MachineCPU) MachineCPU {
	return MachineCPU{m.LoadGen - o.LoadGen, m.Postgres - o.Postgres, m.Redis - o.Redis, m.Busy - o.Busy}
}

// Add is the sum of two differences.
func (m MachineCPU) Add(o MachineCPU) MachineCPU {
	return MachineCPU{m.LoadGen + o.LoadGen, m.Postgres + o.Postgres, m.Redis + o.Redis, m.Busy + o.Busy}
}
