package detector

import (
	"portwatch/pkg/features"
)

// seasonal is the seasonal ablation (AblateSeasonal): each cell's training
// frequency, those of the listeners that come and go shifted by the lag
// term (see lagFit), fitted once on the training windows and never trained
// further. It is the bar portae v2's lag term, trained with the rest of the
// model, is measured against.
type seasonal struct {
	base []float64 // the table's prediction, per cell
	fit  lagFit
	hist *history
}

// adjust rewrites plane, w's last round's prediction, at the shifted cells.
func (s *seasonal) adjust(plane []float32, w features.Window) {
	s.fit.each(func(c int, p uint16, k cellKind) {
		pat, _ := s.hist.pattern(w, c, p, k)
		if int(pat) >= len(s.fit.offsets) {
			return // portae.NoPattern
		}
		i := c*features.Ports + int(p)
		plane[i] = float32(min(max(sigmoid(logit(s.base[i])+s.fit.offsets[pat]), eps), 1-eps))
	})
}
