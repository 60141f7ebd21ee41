package main

import (
	"fmt"
	"strconv"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func fmtSscan(s string, v *float64) (int, error) { return fmt.Sscan(s, v) }
