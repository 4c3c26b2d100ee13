package verdict

import (
	"fmt"

	"github.com/firewatch/firewatch/internal/model"
)

// checkTransfers compares downloads (download.tampered) and the rates of
// downloads and final HTTP hops (throttled).
func (a *analysis) checkTransfers() {
	ind, ctd := a.in.steps(model.OpDownload), a.ctl.steps(model.OpDownload)
	for i := range ind {
		if i >= len(ctd) {
			break
		}
		d, c := ind[i].Download, ctd[i].Download
		if d == nil || c == nil {
			continue
		}
		if ind[i].Failure == nil && ctd[i].Failure == nil && !d.Truncated && !c.Truncated &&
			d.SHA256 != "" && c.SHA256 != "" && d.SHA256 != c.SHA256 {
			a.add(model.MethodDownloadTampered, fmt.Sprintf("%s: inside %d bytes, sha256 %s; outside %d bytes, sha256 %s",
				d.URL, d.Size, d.SHA256, c.Size, c.SHA256))
		}
		a.throttle(d.URL, d.Size, d.BytesPerSec, c.Size, c.BytesPerSec)
	}
	in, ctl := a.in.httpChains(), a.ctl.httpChains()
	for i := range in {
		if i >= len(ctl) {
			break
		}
		for _, s := range in[i] {
			for _, c := range ctl[i] {
				if c.HTTP.URL == s.HTTP.URL && c.Failure == nil {
					a.throttle(s.HTTP.URL, s.HTTP.BodyLength, s.HTTP.BytesPerSec, c.HTTP.BodyLength, c.HTTP.BytesPerSec)
				}
			}
		}
	}
}

// throttle adds throttled when the inside rate is below the ratio of the
// control's and both transfers were long enough to tell.
func (a *analysis) throttle(u string, inSize int64, inRate float64, ctlSize int64, ctlRate float64) {
	if inRate <= 0 || ctlRate <= 0 || inSize < a.opts.MinThrottleBytes || ctlSize < a.opts.MinThrottleBytes {
		return
	}
	if inRate >= a.opts.ThrottleRatio*ctlRate {
		return
	}
	a.slow[u] = true
	a.add(model.MethodThrottled, fmt.Sprintf("%s: %s/s inside, %s/s outside (%.2g%% of the control's rate, %s transferred inside)",
		u, bytesStr(inRate), bytesStr(ctlRate), 100*inRate/ctlRate, bytesStr(float64(inSize))))
}

func bytesStr(n float64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", n/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", n/(1<<10))
	}
	return fmt.Sprintf("%.0f B", n)
}
