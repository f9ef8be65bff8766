package githubtest

import (
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// app is the GitHub App the fake plays: one per Server. A manifest conversion renames it
// and returns its credentials, as if GitHub had just created it.
type app struct {
	id            int64
	slug, name    string
	clientID      string
	clientSecret  string
	owner         string
	description   string
	externalURL   string
	permissions   map[string]string
	events        []string
	createdAt     time.Time
	updatedAt     time.Time
	webhookSecret string
}

func newApp(cfg config, now time.Time) app {
	return app{
		id:           cfg.appID,
		slug:         cfg.appSlug,
		name:         cfg.appName,
		clientID:     "Iv23li" + randomAlnum(14),
		clientSecret: randomHex(20),
		owner:        cfg.appOwner,
		description:  "agentgate under test",
		externalURL:  "https://agentgate.example.com",
		permissions: map[string]string{
			"actions": "write", "checks": "write", "contents": "write", "issues": "write",
			"metadata": "read", "pull_requests": "write", "statuses": "read", "members": "read",
		},
		events:        []string{"check_run", "check_suite", "issue_comment", "issues", "pull_request", "push"},
		createdAt:     now.UTC().Truncate(time.Second),
		updatedAt:     now.UTC().Truncate(time.Second),
		webhookSecret: cfg.webhookSecret,
	}
}

// Installation is an installation of the app on an account.
type Installation struct {
	ID          int64
	Account     string // login of the user or organization
	AccountType string // "Organization" (default) or "User"
	AccountID   int64  // default: derived from Account
	Repos       []Repo
	// RepositorySelection is "all" (default) or "selected".
	RepositorySelection string
	// Permissions granted to the installation; default: the app's.
	Permissions map[string]string
	Events      []string // default: the app's
}

// Repo is a repository the installation can access.
type Repo struct {
	ID            int64
	FullName      string // "owner/name"
	Private       bool
	DefaultBranch string // default "main"
}

func (r Repo) owner() string { o, _, _ := strings.Cut(r.FullName, "/"); return o }
func (r Repo) name() string  { _, n, _ := strings.Cut(r.FullName, "/"); return n }

type installation struct {
	Installation
	createdAt time.Time
}

func (i *installation) permissions() map[string]string { return maps.Clone(i.Permissions) }

func (i *installation) repo(fullName string) (Repo, bool) {
	for _, r := range i.Repos {
		if strings.EqualFold(r.FullName, fullName) {
			return r, true
		}
	}
	return Repo{}, false
}

// AddInstallation adds the installation, or replaces the one with the same ID.
func (s *Server) AddInstallation(inst Installation) {
	s.t.Helper()
	if inst.ID == 0 || inst.Account == "" {
		s.t.Fatalf("githubtest: AddInstallation needs ID and Account, got %+v", inst)
	}
	if inst.AccountType == "" {
		inst.AccountType = "Organization"
	}
	if inst.AccountID == 0 {
		inst.AccountID = derivedID(inst.Account)
	}
	if inst.RepositorySelection == "" {
		inst.RepositorySelection = "all"
	}
	inst.Repos = slices.Clone(inst.Repos)
	for i, r := range inst.Repos {
		if r.ID == 0 || !strings.Contains(r.FullName, "/") {
			s.t.Fatalf("githubtest: repository needs ID and owner/name FullName, got %+v", r)
		}
		if r.DefaultBranch == "" {
			inst.Repos[i].DefaultBranch = "main"
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if inst.Permissions == nil {
		inst.Permissions = maps.Clone(s.app.permissions)
	}
	if inst.Events == nil {
		inst.Events = slices.Clone(s.app.events)
	}
	if _, ok := s.installations[inst.ID]; !ok {
		s.instOrder = append(s.instOrder, inst.ID)
	}
	s.installations[inst.ID] = &installation{Installation: inst, createdAt: s.now().UTC().Truncate(time.Second)}
}

// derivedID gives accounts a stable ID, so payloads and API answers agree.
func derivedID(login string) int64 {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(login)))
	return int64(h.Sum32()%90_000_000) + 10_000_000
}

func nodeID(kind string, id int64) string {
	return base64.StdEncoding.EncodeToString([]byte(itoa(len(kind)) + ":" + kind + itoa(id)))
}

// GET /app
func (s *Server) getApp(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.appJSONLocked())
}

func (s *Server) appJSONLocked() map[string]any {
	a := s.app
	return map[string]any{
		"id":                  a.id,
		"slug":                a.slug,
		"node_id":             nodeID("App", a.id),
		"client_id":           a.clientID,
		"owner":               s.accountJSON(a.owner, derivedID(a.owner), "Organization"),
		"name":                a.name,
		"description":         a.description,
		"external_url":        a.externalURL,
		"html_url":            s.WebURL() + "apps/" + a.slug,
		"created_at":          a.createdAt.Format(time.RFC3339),
		"updated_at":          a.updatedAt.Format(time.RFC3339),
		"permissions":         a.permissions,
		"events":              a.events,
		"installations_count": len(s.installations),
	}
}

// accountJSON is a "simple-user" object for a user or an organization.
func (s *Server) accountJSON(login string, id int64, typ string) map[string]any {
	api := s.srv.URL + "/users/" + login
	return map[string]any{
		"login":               login,
		"id":                  id,
		"node_id":             nodeID(typ, id),
		"avatar_url":          "https://avatars.githubusercontent.com/u/" + itoa(id) + "?v=4",
		"gravatar_id":         "",
		"url":                 api,
		"html_url":            s.WebURL() + login,
		"followers_url":       api + "/followers",
		"following_url":       api + "/following{/other_user}",
		"gists_url":           api + "/gists{/gist_id}",
		"starred_url":         api + "/starred{/owner}{/repo}",
		"subscriptions_url":   api + "/subscriptions",
		"organizations_url":   api + "/orgs",
		"repos_url":           api + "/repos",
		"events_url":          api + "/events{/privacy}",
		"received_events_url": api + "/received_events",
		"type":                typ,
		"user_view_type":      "public",
		"site_admin":          false,
	}
}

// installationJSON is an "installation" object.
func (s *Server) installationJSONLocked(inst *installation) map[string]any {
	return map[string]any{
		"id":                        inst.ID,
		"client_id":                 s.app.clientID,
		"account":                   s.accountJSON(inst.Account, inst.AccountID, inst.AccountType),
		"repository_selection":      inst.RepositorySelection,
		"access_tokens_url":         s.srv.URL + "/app/installations/" + itoa(inst.ID) + "/access_tokens",
		"repositories_url":          s.srv.URL + "/installation/repositories",
		"html_url":                  s.WebURL() + "settings/installations/" + itoa(inst.ID),
		"app_id":                    s.app.id,
		"app_slug":                  s.app.slug,
		"target_id":                 inst.AccountID,
		"target_type":               inst.AccountType,
		"permissions":               inst.Permissions,
		"events":                    inst.Events,
		"created_at":                inst.createdAt.Format(time.RFC3339),
		"updated_at":                inst.createdAt.Format(time.RFC3339),
		"single_file_name":          nil,
		"has_multiple_single_files": false,
		"single_file_paths":         []string{},
		"suspended_by":              nil,
		"suspended_at":              nil,
	}
}

// repositoryJSON is a "repository" object with every field the description requires.
func (s *Server) repositoryJSONLocked(inst *installation, r Repo) map[string]any {
	api := s.srv.URL + "/repos/" + r.FullName
	html := s.WebURL() + r.FullName
	created := inst.createdAt.Add(-24 * time.Hour).Format(time.RFC3339)
	visibility := "public"
	if r.Private {
		visibility = "private"
	}
	return map[string]any{
		"id":                          r.ID,
		"node_id":                     nodeID("Repository", r.ID),
		"name":                        r.name(),
		"full_name":                   r.FullName,
		"owner":                       s.accountJSON(r.owner(), derivedID(r.owner()), ownerType(inst, r)),
		"private":                     r.Private,
		"visibility":                  visibility,
		"html_url":                    html,
		"description":                 nil,
		"fork":                        false,
		"url":                         api,
		"archive_url":                 api + "/{archive_format}{/ref}",
		"assignees_url":               api + "/assignees{/user}",
		"blobs_url":                   api + "/git/blobs{/sha}",
		"branches_url":                api + "/branches{/branch}",
		"collaborators_url":           api + "/collaborators{/collaborator}",
		"comments_url":                api + "/comments{/number}",
		"commits_url":                 api + "/commits{/sha}",
		"compare_url":                 api + "/compare/{base}...{head}",
		"contents_url":                api + "/contents/{+path}",
		"contributors_url":            api + "/contributors",
		"deployments_url":             api + "/deployments",
		"downloads_url":               api + "/downloads",
		"events_url":                  api + "/events",
		"forks_url":                   api + "/forks",
		"git_commits_url":             api + "/git/commits{/sha}",
		"git_refs_url":                api + "/git/refs{/sha}",
		"git_tags_url":                api + "/git/tags{/sha}",
		"hooks_url":                   api + "/hooks",
		"issue_comment_url":           api + "/issues/comments{/number}",
		"issue_events_url":            api + "/issues/events{/number}",
		"issues_url":                  api + "/issues{/number}",
		"keys_url":                    api + "/keys{/key_id}",
		"labels_url":                  api + "/labels{/name}",
		"languages_url":               api + "/languages",
		"merges_url":                  api + "/merges",
		"milestones_url":              api + "/milestones{/number}",
		"notifications_url":           api + "/notifications{?since,all,participating}",
		"pulls_url":                   api + "/pulls{/number}",
		"releases_url":                api + "/releases{/id}",
		"stargazers_url":              api + "/stargazers",
		"statuses_url":                api + "/statuses/{sha}",
		"subscribers_url":             api + "/subscribers",
		"subscription_url":            api + "/subscription",
		"tags_url":                    api + "/tags",
		"teams_url":                   api + "/teams",
		"trees_url":                   api + "/git/trees{/sha}",
		"clone_url":                   html + ".git",
		"git_url":                     "git://" + strings.TrimPrefix(strings.TrimPrefix(html, "http://"), "https://") + ".git",
		"ssh_url":                     "git@github.com:" + r.FullName + ".git",
		"svn_url":                     html,
		"mirror_url":                  nil,
		"homepage":                    nil,
		"language":                    nil,
		"license":                     nil,
		"default_branch":              r.DefaultBranch,
		"forks":                       0,
		"forks_count":                 0,
		"open_issues":                 0,
		"open_issues_count":           0,
		"watchers":                    0,
		"watchers_count":              0,
		"stargazers_count":            0,
		"size":                        0,
		"has_issues":                  true,
		"has_projects":                true,
		"has_wiki":                    true,
		"has_pages":                   false,
		"has_downloads":               true,
		"has_discussions":             false,
		"archived":                    false,
		"disabled":                    false,
		"is_template":                 false,
		"topics":                      []string{},
		"allow_forking":               true,
		"web_commit_signoff_required": false,
		"created_at":                  created,
		"updated_at":                  created,
		"pushed_at":                   created,
	}
}

func ownerType(inst *installation, r Repo) string {
	if strings.EqualFold(r.owner(), inst.Account) {
		return inst.AccountType
	}
	return "Organization"
}

// GET /app/installations
func (s *Server) listInstallations(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	items := make([]any, 0, len(s.instOrder))
	for _, id := range s.instOrder {
		items = append(items, s.installationJSONLocked(s.installations[id]))
	}
	s.mu.Unlock()
	page := paginate(w, r, items)
	writeJSON(w, http.StatusOK, page)
}

// GET /app/installations/{installation_id}
func (s *Server) getInstallation(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.installations[pathInt(r, "installation_id")]
	if inst == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, s.installationJSONLocked(inst))
}

// GET /repos/{owner}/{repo}/installation
func (s *Server) getRepoInstallation(w http.ResponseWriter, r *http.Request, c *call) {
	fullName := r.PathValue("owner") + "/" + r.PathValue("repo")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.instOrder {
		inst := s.installations[id]
		if _, ok := inst.repo(fullName); ok {
			writeJSON(w, http.StatusOK, s.installationJSONLocked(inst))
			return
		}
	}
	writeError(w, http.StatusNotFound, "Not Found")
}

// accessTokenRequest is the body of POST /app/installations/{installation_id}/access_tokens.
type accessTokenRequest struct {
	Repositories  []string          `json:"repositories"`
	RepositoryIDs []int64           `json:"repository_ids"`
	Permissions   map[string]string `json:"permissions"`
}

var permissionLevel = map[string]int{"read": 1, "write": 2, "admin": 3}

// POST /app/installations/{installation_id}/access_tokens
func (s *Server) createAccessToken(w http.ResponseWriter, r *http.Request, c *call) {
	var req accessTokenRequest
	if len(c.body) > 0 {
		if err := json.Unmarshal(c.body, &req); err != nil {
			writeError(w, http.StatusBadRequest, "Problems parsing JSON")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.installations[pathInt(r, "installation_id")]
	if inst == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}

	var repoIDs map[int64]bool
	var narrowed []Repo
	if req.Repositories != nil || req.RepositoryIDs != nil {
		repoIDs = map[int64]bool{}
		for _, name := range req.Repositories {
			repo, ok := inst.repo(inst.Account + "/" + name)
			if !ok {
				writeError(w, http.StatusUnprocessableEntity, "There is at least one repository that does not exist or is not accessible to the parent installation.")
				return
			}
			repoIDs[repo.ID] = true
		}
		for _, id := range req.RepositoryIDs {
			if !slices.ContainsFunc(inst.Repos, func(r Repo) bool { return r.ID == id }) {
				writeError(w, http.StatusUnprocessableEntity, "There is at least one repository that does not exist or is not accessible to the parent installation.")
				return
			}
			repoIDs[id] = true
		}
		for _, repo := range inst.Repos {
			if repoIDs[repo.ID] {
				narrowed = append(narrowed, repo)
			}
		}
	}

	var perms map[string]string
	if req.Permissions != nil {
		for name, level := range req.Permissions {
			granted := inst.Permissions[name]
			if permissionLevel[level] == 0 || permissionLevel[level] > permissionLevel[granted] {
				writeError(w, http.StatusUnprocessableEntity, "The permissions requested are not granted to this installation.")
				return
			}
		}
		perms = maps.Clone(req.Permissions)
	}

	tok := s.mintTokenLocked(inst, repoIDs, perms)
	out := map[string]any{
		"token":                tok.value,
		"expires_at":           tok.expiresAt.UTC().Format(time.RFC3339),
		"permissions":          tok.permissions,
		"repository_selection": inst.RepositorySelection,
	}
	if repoIDs != nil {
		out["repository_selection"] = "selected"
		repos := make([]any, 0, len(narrowed))
		for _, repo := range narrowed {
			repos = append(repos, s.repositoryJSONLocked(inst, repo))
		}
		out["repositories"] = repos
	}
	writeJSON(w, http.StatusCreated, out)
}

// GET /installation/repositories
func (s *Server) listInstallationRepos(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	items := []any{}
	for _, repo := range c.inst.Repos {
		if c.token.canAccessRepo(repo.ID) {
			items = append(items, s.repositoryJSONLocked(c.inst, repo))
		}
	}
	selection := c.inst.RepositorySelection
	if c.token.repoIDs != nil {
		selection = "selected"
	}
	s.mu.Unlock()
	page := paginate(w, r, items)
	writeJSON(w, http.StatusOK, map[string]any{
		"total_count":          len(items),
		"repository_selection": selection,
		"repositories":         page,
	})
}

// GET /repos/{owner}/{repo}
func (s *Server) getRepo(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, ok := c.inst.repo(r.PathValue("owner") + "/" + r.PathValue("repo"))
	if !ok || !c.token.canAccessRepo(repo.ID) {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	out := s.repositoryJSONLocked(c.inst, repo)
	out["network_count"] = 0
	out["subscribers_count"] = 0
	writeJSON(w, http.StatusOK, out)
}

// pathInt reads an integer path parameter the description has already validated.
func pathInt(r *http.Request, name string) int64 {
	v, _ := strconv.ParseInt(r.PathValue(name), 10, 64)
	return v
}
