package ghapp

import (
	"container/list"
	"sync"
)

// responseCache is a byte-bounded LRU implementing httpcache.Cache. It keeps
// ETag'd responses so repeat reads become conditional requests (304s cost no
// rate limit). httpcache's own MemoryCache never evicts, which on a
// long-running server is a leak; the bounded LRU written for this was
// refused by the module proxy here, so it is these few lines.
type responseCache struct {
	mu    sync.Mutex
	max   int
	size  int
	order *list.List // front = most recently used
	items map[string]*list.Element
}

type cacheEntry struct {
	key   string
	value []byte
}

func newResponseCache(maxBytes int) *responseCache {
	return &responseCache{max: maxBytes, order: list.New(), items: map[string]*list.Element{}}
}

// Get implements httpcache.Cache.
func (c *responseCache) Get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).value, true
}

// Set implements httpcache.Cache. An entry larger than the whole cache is
// not kept.
func (c *responseCache) Set(key string, value []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.removeLocked(el)
	}
	if len(key)+len(value) > c.max {
		return
	}
	c.items[key] = c.order.PushFront(&cacheEntry{key: key, value: value})
	c.size += len(key) + len(value)
	for c.size > c.max {
		c.removeLocked(c.order.Back())
	}
}

// Delete implements httpcache.Cache.
func (c *responseCache) Delete(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.removeLocked(el)
	}
}

func (c *responseCache) removeLocked(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.order.Remove(el)
	delete(c.items, e.key)
	c.size -= len(e.key) + len(e.value)
}
