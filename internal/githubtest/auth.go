package githubtest

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// authRequirement is the credential an endpoint takes.
type authRequirement int

const (
	authNone         authRequirement = iota // e.g. the manifest conversion
	authApp                                 // the app's JWT: /app and /app/...
	authInstallation                        // an installation access token
)

// GitHub's limits on app JWTs: iat may be up to 60 s ahead of GitHub's clock (drift), and
// exp at most 10 minutes ahead. GitHub measures exp against its clock, not against iat:
// its own docs (and ghinstallation) backdate iat, so exp-iat may exceed 10 minutes.
const (
	jwtMaxIssuedAhead = 60 * time.Second
	jwtMaxLifetime    = 10 * time.Minute
	jwtLeeway         = 5 * time.Second // generous to clients whose clock is slightly ahead
)

// installationToken is a minted "ghs_" token and what it may do.
type installationToken struct {
	value          string
	installationID int64
	expiresAt      time.Time
	// repoIDs narrows the token to these repositories; nil means every repository of the
	// installation (repository_selection "all" or the installation's selection).
	repoIDs     map[int64]bool
	permissions map[string]string
}

// CanAccessRepo says whether the token may act on the repository (later endpoints check it).
func (t *installationToken) canAccessRepo(id int64) bool {
	return t.repoIDs == nil || t.repoIDs[id]
}

// AppPrivateKeyPEM is the app's RSA 2048 private key in PKCS#1 PEM, the form GitHub hands out.
func (s *Server) AppPrivateKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(s.privateKey())})
}

// AppID is the app's ID, the iss of its JWTs.
func (s *Server) AppID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.app.id
}

// credentials splits "Authorization: Bearer x" or "token x".
func credentials(r *http.Request) (scheme, value string) {
	h := r.Header.Get("Authorization")
	scheme, value, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return "", ""
	}
	return strings.ToLower(scheme), strings.TrimSpace(value)
}

// authenticate checks the request's credentials against what the endpoint needs and answers
// 401/403 like GitHub if they do not do. It sets the rate limit bucket the request uses.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, c *call, need authRequirement) bool {
	scheme, cred := credentials(r)
	if need == authNone {
		return true
	}
	if cred == "" || (scheme != "bearer" && scheme != "token") {
		c.req.Auth = AuthNone
		if r.Header.Get("Authorization") != "" {
			c.req.Auth = AuthInvalid
		}
		if need == authApp {
			writeError(w, http.StatusUnauthorized, "A JSON web token could not be decoded")
		} else {
			writeError(w, http.StatusUnauthorized, "Requires authentication")
		}
		return false
	}
	if need == authApp {
		if err := s.verifyAppJWT(cred); err != nil {
			c.req.Auth = AuthInvalid
			writeError(w, http.StatusUnauthorized, err.Error())
			return false
		}
		c.req.Auth = AuthAppJWT
		c.bucket = "app"
		return true
	}

	s.mu.Lock()
	tok := s.tokens[cred]
	var inst *installation
	if tok != nil && s.now().Before(tok.expiresAt) {
		inst = s.installations[tok.installationID]
	}
	s.mu.Unlock()
	if inst == nil {
		c.req.Auth = AuthInvalid
		if scheme == "bearer" && s.verifyAppJWT(cred) == nil {
			// A valid app JWT is the wrong credential here, not a bad one.
			writeError(w, http.StatusForbidden, "Resource not accessible by integration")
			return false
		}
		writeError(w, http.StatusUnauthorized, "Bad credentials")
		return false
	}
	c.req.Auth = AuthInstallation
	c.req.InstallationID = inst.ID
	c.inst, c.token = inst, tok
	c.bucket = installationBucket(inst.ID)
	return true
}

// verifyAppJWT checks an app JWT the way GitHub does; its errors are GitHub's messages.
func (s *Server) verifyAppJWT(raw string) error {
	key := &s.privateKey().PublicKey
	tok, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if err != nil || !tok.Valid {
		return errors.New("A JSON web token could not be decoded")
	}
	claims, _ := tok.Claims.(jwt.MapClaims)
	s.mu.Lock()
	appID, clientID := s.app.id, s.app.clientID
	s.mu.Unlock()
	// GitHub takes the app ID as a number or a string, or the app's client ID.
	switch iss := claims["iss"].(type) {
	case float64:
		if int64(iss) != appID {
			return errors.New("Integration not found")
		}
	case string:
		if id, err := strconv.ParseInt(iss, 10, 64); (err != nil || id != appID) && iss != clientID {
			return errors.New("Integration not found")
		}
	default:
		return errors.New("'Issuer' claim ('iss') must be an Integer")
	}
	iat, okIat := claims["iat"].(float64)
	exp, okExp := claims["exp"].(float64)
	if !okIat {
		return errors.New("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued")
	}
	if !okExp {
		return errors.New("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	}
	now := s.now()
	issuedAt, expiresAt := time.Unix(int64(iat), 0), time.Unix(int64(exp), 0)
	switch {
	case issuedAt.After(now.Add(jwtMaxIssuedAhead)):
		return errors.New("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued")
	case !expiresAt.After(now):
		return errors.New("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	case expiresAt.After(now.Add(jwtMaxLifetime + jwtLeeway)):
		return errors.New("'Expiration time' claim ('exp') is too far in the future")
	case !expiresAt.After(issuedAt):
		return errors.New("'Expiration time' claim ('exp') must be after 'Issued at' claim ('iat')")
	}
	return nil
}

// SignAppJWT returns a valid app JWT, for tests that call the API without ghinstallation.
func (s *Server) SignAppJWT() string {
	now := s.now()
	claims := jwt.MapClaims{
		"iat": now.Add(-30 * time.Second).Unix(),
		"exp": now.Add(9 * time.Minute).Unix(),
		"iss": strconv.FormatInt(s.AppID(), 10),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(s.privateKey())
	if err != nil {
		panic("githubtest: sign app JWT: " + err.Error())
	}
	return signed
}

// InstallationToken mints a token for the installation as POST .../access_tokens would, for
// tests that need one without going through the API. It panics if there is no such
// installation.
func (s *Server) InstallationToken(installationID int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.installations[installationID]
	if inst == nil {
		panic("githubtest: no installation " + itoa(installationID))
	}
	return s.mintTokenLocked(inst, nil, nil).value
}

func (s *Server) mintTokenLocked(inst *installation, repoIDs map[int64]bool, perms map[string]string) *installationToken {
	if perms == nil {
		perms = inst.permissions()
	}
	tok := &installationToken{
		value:          "ghs_" + randomAlnum(36),
		installationID: inst.ID,
		expiresAt:      s.now().Add(time.Hour).Truncate(time.Second),
		repoIDs:        repoIDs,
		permissions:    perms,
	}
	s.tokens[tok.value] = tok
	return tok
}

// identify records which installation a request's token belongs to, without
// judging it (authenticate does that, per route).
func (s *Server) identify(r *http.Request, c *call) {
	_, cred := credentials(r)
	if cred == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok := s.tokens[cred]; tok != nil {
		c.req.InstallationID = tok.installationID
	}
}
