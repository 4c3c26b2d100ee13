package web

import (
	"fmt"

	"github.com/firewatch/firewatch/internal/store"
)

// chart is a bar chart drawn as inline SVG by the templates: one column per
// day, an optional second (highlighted) bar stacked in front of the first.
type chart struct {
	Width, Height int
	PlotTop       int // y of the plot's top edge
	PlotBottom    int // y of the baseline
	Max           int
	Label         string // what the bars count
	Bars          []bar
	Ticks         []tick
	Empty         bool
}

type bar struct {
	X, W               int
	Y, H               int    // back bar (e.g. tests)
	HiY, HiH           int    // front bar (e.g. blocked); HiH 0 when none
	Title              string // tooltip text
	Value, Highlighted int
}

type tick struct {
	X     int
	Label string
}

const (
	chartW      = 720
	chartH      = 180
	chartTop    = 10
	chartBottom = 150
)

// newChart draws days as columns: back is the total (0 to draw none), hi the
// highlighted part.
func newChart(days []store.DayCount, label string, back, hi func(store.DayCount) int) chart {
	c := chart{Width: chartW, Height: chartH, PlotTop: chartTop, PlotBottom: chartBottom, Label: label}
	if len(days) == 0 {
		c.Empty = true
		return c
	}
	for _, d := range days {
		c.Max = max(c.Max, back(d), hi(d))
	}
	c.Empty = c.Max == 0
	scale := c.Max
	if scale == 0 {
		scale = 1
	}
	step := chartW / len(days)
	w := max(step-2, 1)
	plotH := chartBottom - chartTop
	for i, d := range days {
		x := i * step
		bv, hv := back(d), hi(d)
		bh := bv * plotH / scale
		hh := hv * plotH / scale
		b := bar{X: x, W: w, Y: chartBottom - bh, H: bh, HiY: chartBottom - hh, HiH: hh, Value: bv, Highlighted: hv}
		if bv != hv {
			b.Title = fmt.Sprintf("%s: %d blocked of %d tests", d.Day.Format("2 Jan 2006"), hv, bv)
		} else {
			b.Title = fmt.Sprintf("%s: %d %s", d.Day.Format("2 Jan 2006"), hv, label)
		}
		c.Bars = append(c.Bars, b)
		if i%7 == 0 || (i == len(days)-1 && i%7 >= 4) {
			c.Ticks = append(c.Ticks, tick{X: x + w/2, Label: d.Day.Format("2 Jan")})
		}
	}
	return c
}
