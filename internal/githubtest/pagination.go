package githubtest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// GitHub pages lists with per_page (default 30, at most 100; larger values are clamped, not
// refused) and page (from 1), and links the pages in a Link header:
//
//	Link: <https://api.github.com/installation/repositories?page=2&per_page=100>; rel="next",
//	      <https://api.github.com/installation/repositories?page=3&per_page=100>; rel="last"
//
// with rel="prev" and rel="first" from the second page on. A page past the end is an empty
// list with only prev/first links.

const (
	defaultPerPage = 30
	maxPerPage     = 100
)

func perPage(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("per_page"))
	if err != nil || n < 1 {
		return defaultPerPage
	}
	return min(n, maxPerPage)
}

// paginate returns the requested page of items and sets the Link header.
func paginate(w http.ResponseWriter, r *http.Request, items []any) []any {
	size := perPage(r)
	page, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	last := max(1, (len(items)+size-1)/size)

	var links []string
	link := func(p int, rel string) {
		links = append(links, "<"+pageURL(r, "page", strconv.Itoa(p))+`>; rel="`+rel+`"`)
	}
	if page > 1 {
		link(min(page-1, last), "prev")
	}
	if page < last {
		link(page+1, "next")
		link(last, "last")
	}
	if page > 1 {
		link(1, "first")
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}

	start := (page - 1) * size
	if start >= len(items) {
		return []any{}
	}
	return items[start:min(start+size, len(items))]
}

// pageURL is the request's absolute URL with one query parameter replaced.
func pageURL(r *http.Request, key, value string) string {
	q := r.URL.Query()
	q.Set(key, value)
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	return u.String()
}
