package update

import (
	"context"
	"fmt"
	"strconv"
)

// Systemd is the Service of a unit under systemd, through systemctl.
type Systemd struct {
	Unit string // checkpoint.service
}

var _ Service = Systemd{}

// Restart implements Service: a restart job, not waited for (the probation
// watches the unit).
func (s Systemd) Restart(ctx context.Context) error {
	_, err := run(ctx, "systemctl", "--no-block", "restart", s.Unit)
	return err
}

// Status implements Service.
func (s Systemd) Status(ctx context.Context) (ServiceStatus, error) {
	out, err := run(ctx, "systemctl", "show", "-p", "ActiveState,SubState,MainPID,NRestarts,Result,ExecMainStatus", s.Unit)
	if err != nil {
		return ServiceStatus{}, err
	}
	return parseShow(out), nil
}

// parseShow reads systemctl show's Key=Value lines.
func parseShow(out []byte) ServiceStatus {
	m := map[string]string{}
	for _, l := range splitLines(out) {
		if k, v, ok := cut(l, "="); ok {
			m[k] = v
		}
	}
	pid, _ := strconv.Atoi(m["MainPID"])
	restarts, _ := strconv.Atoi(m["NRestarts"])
	st := ServiceStatus{
		Active:   m["ActiveState"] == "active" && m["SubState"] == "running",
		State:    fmt.Sprintf("%s/%s", m["ActiveState"], m["SubState"]),
		PID:      pid,
		Restarts: restarts,
	}
	if r := m["Result"]; r != "" && r != "success" {
		st.State += fmt.Sprintf(" (%s, exit status %s)", r, m["ExecMainStatus"])
	}
	return st
}
