// Package main processes orders: structs, methods, switch with fallthrough, defer/recover, closures.
package main

import (
	"errors"
	"fmt"
	"sort"
)

type Order struct {
	ID       int
	Quantity int
	Priority string
}

var ErrEmpty = errors.New("empty order")

func (o Order) Validate() error {
	if o.Quantity == 0 {
		return ErrEmpty
	} else if o.Quantity < 0 {
		return fmt.Errorf("order %d: negative quantity %d", o.ID, o.Quantity)
	}
	return nil
}

func weight(priority string) int {
	w := 0
	switch priority {
	case "urgent":
		w += 10
		fallthrough
	case "high":
		w += 5
	case "low":
		w = -1
	default:
		w = 1
	}
	return w
}

func safeDivide(a, b int) (result int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("recovered: %v", r)
		}
	}()
	return a / b, nil
}

func process(orders []Order) (accepted []int, total int) {
	sort.Slice(orders, func(i, j int) bool {
		return weight(orders[i].Priority) > weight(orders[j].Priority)
	})
	for _, o := range orders {
		if err := o.Validate(); err != nil {
			if errors.Is(err, ErrEmpty) {
				continue
			}
			fmt.Println("rejected:", err)
			break
		}
		accepted = append(accepted, o.ID)
		total += o.Quantity
	}
	return accepted, total
}

func main() {
	orders := []Order{{1, 3, "low"}, {2, 0, "high"}, {3, 7, "urgent"}, {4, -2, "normal"}, {5, 1, "high"}}
	ids, total := process(orders)
	fmt.Println(ids, total)
	if _, err := safeDivide(total, 0); err != nil {
		fmt.Println(err)
	}
}
