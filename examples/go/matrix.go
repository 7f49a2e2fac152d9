// Package main walks a grid: labeled loops, goroutines with channels, select, interfaces.
package main

import "fmt"

type Grid [][]int

type Scorer interface {
	Score(g Grid) int
}

type SumScorer struct{ SkipNegative bool }

func (s SumScorer) Score(g Grid) int {
	total := 0
	for _, row := range g {
		for _, v := range row {
			if v < 0 && s.SkipNegative {
				continue
			}
			total += v
		}
	}
	return total
}

func find(g Grid, target int) (int, int, bool) {
	row, col, found := -1, -1, false
outer:
	for r := range g {
		for c, v := range g[r] {
			switch {
			case v == target:
				row, col, found = r, c, true
				break outer
			case v < 0:
				continue outer
			}
		}
	}
	return row, col, found
}

func rowSums(g Grid) []int {
	results := make(chan [2]int, len(g))
	for i, row := range g {
		go func(i int, row []int) {
			sum := 0
			for _, v := range row {
				sum += v
			}
			results <- [2]int{i, sum}
		}(i, row)
	}
	sums := make([]int, len(g))
	for range g {
		select {
		case r := <-results:
			sums[r[0]] = r[1]
		}
	}
	return sums
}

func main() {
	g := Grid{{1, 2, 3}, {-4, 5, 6}, {7, 8, 9}}
	var s Scorer = SumScorer{SkipNegative: true}
	r, c, ok := find(g, 8)
	fmt.Println(s.Score(g), r, c, ok, rowSums(g))
	i := 0
	for i < 3 {
		i++
	}
	fmt.Println(i)
}
