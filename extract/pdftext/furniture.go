package pdftext

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Running headers and footers ("page furniture") are found among the
// outermost lines of each page: the furnitureLines top-most and bottom-most.
const furnitureLines = 2

// pageNumber matches a line that is only a page number: "7", "- 7 -",
// "Page 7", "7 / 12", "Seite 7 von 12"; romanPage a lower-case Roman one.
var (
	pageNumber = regexp.MustCompile(`^[\s\-–—|·•]*(?:(?:[Pp]age|PAGE|[Ss]eite|[Pp]\.)\s*)?\d{1,5}(?:\s*(?:/|of|von|de|sur)\s*\d{1,5})?[\s\-–—|·•]*$`)
	romanPage  = regexp.MustCompile(`^[\s\-–—]*x{0,3}(?:ix|iv|v?i{1,3}|v|x)[\s\-–—]*$`)
)

// dropFurniture removes running headers and footers and page numbers from
// pages of lines. A line among the outermost of its page is dropped when it
// is only a page number, or when one of its furnitureKeys recurs at the
// same end of other pages: on 3 pages or more, or on at least half the
// pages of a shorter document.
func dropFurniture(pages [][]line) [][]line {
	counts := furnitureCounts(pages)
	out := make([][]line, len(pages))
	for i, ls := range pages {
		ends := outermost(ls)
		for j, l := range ls {
			if end, ok := ends[j]; ok && isFurniture(l.text, counts, furnitureKeys(end, l.text, i), len(pages)) {
				continue
			}
			out[i] = append(out[i], l)
		}
	}
	return out
}

// isFurniture decides for one outermost line with the given keys.
func isFurniture(text string, counts map[string]int, keys []string, total int) bool {
	if pageNumber.MatchString(text) || romanPage.MatchString(text) {
		return true
	}
	for _, k := range keys {
		if n := counts[k]; n >= 3 || n >= 2 && n*2 >= total {
			return true
		}
	}
	return false
}

// furnitureCounts counts the pages on which each furniture key occurs.
func furnitureCounts(pages [][]line) map[string]int {
	counts := map[string]int{}
	for i, ls := range pages {
		seen := map[string]bool{}
		for j, end := range outermost(ls) {
			for _, k := range furnitureKeys(end, ls[j].text, i) {
				if !seen[k] {
					seen[k] = true
					counts[k]++
				}
			}
		}
	}
	return counts
}

// number matches a run of digits.
var number = regexp.MustCompile(`\d+`)

// furnitureKeys returns the keys under which an outermost line at one end
// ("top" or "bottom") of page index page is counted: its text with case and
// spacing ignored, and for each number in it, the text with that number
// replaced by its difference from the page index. A running header that
// carries the page number ("12 Chapter 2 Methods") then matches across
// pages, while headings that differ only in their numbers ("Chapter 1",
// "Chapter 5") on pages far apart do not.
func furnitureKeys(end, text string, page int) []string {
	norm := furnitureText(text)
	keys := []string{end + "\x00" + norm}
	for _, loc := range number.FindAllStringIndex(norm, 8) {
		n, err := strconv.Atoi(norm[loc[0]:loc[1]])
		if err != nil {
			continue
		}
		keys = append(keys, fmt.Sprintf("%s\x00%s#%s@%d", end, norm[:loc[0]], norm[loc[1]:], n-page))
	}
	return keys
}

// furnitureText lowercases text and drops its spaces and symbols.
func furnitureText(text string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsPunct(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// outermost returns the indexes of the furnitureLines top-most and the
// furnitureLines bottom-most lines of a page, with "top" or "bottom". A
// page needs more than 2*furnitureLines lines, so that short pages keep
// their text.
func outermost(ls []line) map[int]string {
	ends := map[int]string{}
	if len(ls) <= 2*furnitureLines {
		return ends
	}
	for k := 0; k < furnitureLines; k++ {
		hi, lo := -1, -1
		for j, l := range ls {
			if _, taken := ends[j]; taken {
				continue
			}
			if hi < 0 || l.y > ls[hi].y {
				hi = j
			}
			if lo < 0 || l.y < ls[lo].y {
				lo = j
			}
		}
		ends[hi] = "top"
		if lo != hi {
			ends[lo] = "bottom"
		}
	}
	return ends
}
