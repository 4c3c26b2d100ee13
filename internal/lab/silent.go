package lab

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// silentRuleset makes a router send no ICMP time exceeded (its own or the
// censor's, which leave through the same output hook), as routers that
// filter ICMP do: a traceroute shows the hop as "*".
const silentRuleset = `table ip fwlab_silent {
	chain output {
		type filter hook output priority 0; policy accept;
		icmp type time-exceeded drop
	}
}
`

// silenceRouters installs silentRuleset on the routers of the given hops.
// Deleting the namespace removes it.
func silenceRouters(ctx context.Context, hops []int) error {
	for _, h := range hops {
		ns := RouterAt(h).NS
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(silentRuleset)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("lab: silencing hop %d (%s): nft: %v: %s", h, ns, err, strings.TrimSpace(out.String()))
		}
	}
	return nil
}
