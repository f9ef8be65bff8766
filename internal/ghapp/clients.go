// Package ghapp is the one place that builds GitHub API clients: as the app
// (JWT) or as one of its installations (short-lived installation tokens),
// through go-githubapp's client creator with ETag caching, and with every
// request counted by installation, endpoint class and status.
//
// It also classifies GitHub errors for the job queue (retry later, wait for
// a rate limit, or give up) so handlers can return errors as they are.
package ghapp

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v89/github"
	"github.com/gregjones/httpcache"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/agentgate/agentgate/internal/metrics"
)

// Config identifies the app and the API it talks to.
type Config struct {
	AppID         int64
	PrivateKeyPEM []byte
	APIURL        string // ends with "/"
	UserAgent     string
	Timeout       time.Duration
}

// cacheBytesPerInstallation bounds each installation's ETag cache.
const cacheBytesPerInstallation = 16 << 20

// Clients hands out GitHub clients. Clients are cached per installation so
// their installation token and ETag cache are reused across jobs.
type Clients struct {
	cfg     Config
	metrics *metrics.Metrics
	base    http.RoundTripper

	mu       sync.Mutex
	app      *github.Client
	installs map[int64]*github.Client
}

// New validates cfg and returns a client factory.
func New(cfg Config, m *metrics.Metrics) (*Clients, error) {
	if cfg.AppID <= 0 {
		return nil, fmt.Errorf("github clients: app id %d is not valid", cfg.AppID)
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		cfg.APIURL += "/"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "agentgate"
	}
	return &Clients{
		cfg:      cfg,
		metrics:  m,
		base:     http.DefaultTransport.(*http.Transport).Clone(),
		installs: map[int64]*github.Client{},
	}, nil
}

// creator builds go-githubapp's client creator for one installation (0 for
// the app itself). Our counting transport is the innermost layer, below the
// installation-token transport, so token requests are counted too and
// labelled with the installation they were for.
func (c *Clients) creator(installationID int64) githubapp.ClientCreator {
	return githubapp.NewClientCreator(
		c.cfg.APIURL, "", c.cfg.AppID, c.cfg.PrivateKeyPEM,
		githubapp.WithClientUserAgent(c.cfg.UserAgent),
		githubapp.WithClientTimeout(c.cfg.Timeout),
		// Conditional requests: a 304 costs no rate limit. alwaysValidate so
		// a cached answer is never served without asking GitHub.
		githubapp.WithClientCaching(true, func() httpcache.Cache { return newResponseCache(cacheBytesPerInstallation) }),
		githubapp.WithTransport(&countingTransport{next: c.base, installation: installationID, metrics: c.metrics}),
	)
}

// AppID is the GitHub App's id (its check runs carry it).
func (c *Clients) AppID() int64 { return c.cfg.AppID }

// App returns a client authenticated as the app (JWT), for /app endpoints.
func (c *Clients) App() (*github.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.app != nil {
		return c.app, nil
	}
	client, err := c.creator(0).NewAppClient()
	if err != nil {
		return nil, fmt.Errorf("app client: %w", err)
	}
	c.app = client
	return client, nil
}

// Installation returns a client authenticated as one installation.
func (c *Clients) Installation(id int64) (*github.Client, error) {
	if id <= 0 {
		return nil, fmt.Errorf("installation client: no installation id in the event")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if client, ok := c.installs[id]; ok {
		return client, nil
	}
	client, err := c.creator(id).NewInstallationClient(id)
	if err != nil {
		return nil, fmt.Errorf("installation %d client: %w", id, err)
	}
	c.installs[id] = client
	return client, nil
}

// countingTransport records every request GitHub answered (or did not).
type countingTransport struct {
	next         http.RoundTripper
	installation int64
	metrics      *metrics.Metrics
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if t.metrics == nil {
		return resp, err
	}
	inst := strconv.FormatInt(t.installation, 10)
	status := "0"
	if resp != nil {
		status = strconv.Itoa(resp.StatusCode)
		if rem := resp.Header.Get("X-RateLimit-Remaining"); rem != "" {
			if n, perr := strconv.ParseFloat(rem, 64); perr == nil {
				resource := resp.Header.Get("X-RateLimit-Resource")
				if resource == "" {
					resource = "core"
				}
				t.metrics.GitHubRateRemaining.WithLabelValues(inst, resource).Set(n)
			}
		}
	}
	t.metrics.GitHubRequests.WithLabelValues(inst, EndpointClass(r.URL.Path), r.Method, status).Inc()
	return resp, err
}

// RepoToken mints an installation token narrowed to one repository and to
// perms (e.g. contents: write and pull_requests: write to push an agent's
// change): the smallest credential that does the job, for git, which
// cannot use the API client's token source.
func (c *Clients) RepoToken(ctx context.Context, installationID, repositoryID int64, perms *github.InstallationPermissions) (token string, expires time.Time, err error) {
	app, err := c.App()
	if err != nil {
		return "", time.Time{}, err
	}
	tok, _, err := app.Apps.CreateInstallationToken(ctx, installationID, &github.InstallationTokenOptions{
		RepositoryIDs: []int64{repositoryID},
		Permissions:   perms,
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("mint a token for repository %d of installation %d: %w", repositoryID, installationID, err)
	}
	return tok.GetToken(), tok.GetExpiresAt().Time, nil
}
