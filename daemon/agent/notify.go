package agent

import (
	"fmt"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// SystemdNotify sends state to systemd's notification socket; outside systemd
// (no NOTIFY_SOCKET) it does nothing.
func SystemdNotify(state string) error {
	_, err := daemon.SdNotify(false, state)
	return err
}

// reloadingMessage is RELOADING=1 with the monotonic time systemd (253 and
// later, Type=notify-reload) wants; older versions ignore the extra field.
func reloadingMessage() string {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return "RELOADING=1"
	}
	return fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", ts.Nano()/1000)
}
