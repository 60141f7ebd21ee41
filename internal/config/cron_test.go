package config

import "testing"

// Found by FuzzLoad: robfig/cron panics on a time zone prefix with no
// schedule after it.
func TestParseCronRejectsWhatTheLibraryPanicsOn(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"TZ=", "CRON_TZ=", "TZ=UTC", "CRON_TZ=Europe/Berlin"} {
		if _, err := ParseCron(spec); err == nil {
			t.Errorf("ParseCron(%q): got no error, want one", spec)
		}
	}
	if _, err := ParseCron("CRON_TZ=UTC */5 * * * *"); err != nil {
		t.Errorf("ParseCron with a time zone: got %v, want no error", err)
	}
}
