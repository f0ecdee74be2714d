package pcaptl

// NovelInTraining counts the held-out chunks tl's training minutes drew.
func NovelInTraining(tl *Timeline) int {
	n := 0
	for _, groups := range tl.chunks[:tl.Train] {
		for _, g := range groups {
			if tl.novel[g] {
				n++
			}
		}
	}
	return n
}
