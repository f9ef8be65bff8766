package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File names of the credentials first-run setup saves in the data directory.
const (
	AppCredentialsFile = "github-app.json"
	AppPrivateKeyFile  = "github-app.pem"
)

// SavedApp is what GitHub's manifest conversion returned, minus the key,
// which lives in its own PEM file so operators can point other tools at it.
type SavedApp struct {
	AppID         int64  `json:"app_id"`
	Slug          string `json:"slug"`
	HTMLURL       string `json:"html_url"`
	ClientID      string `json:"client_id"`
	ClientSecret  string `json:"client_secret"`
	WebhookSecret string `json:"webhook_secret"`
}

// SaveAppCredentials writes the app's credentials and private key into
// dataDir, readable by the owner only. It refuses to overwrite credentials
// that are already there: replacing a working app by accident would orphan
// its installations.
func SaveAppCredentials(dataDir string, app SavedApp, privateKeyPEM []byte) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir %s: %w", dataDir, err)
	}
	credPath := filepath.Join(dataDir, AppCredentialsFile)
	keyPath := filepath.Join(dataDir, AppPrivateKeyFile)
	raw, err := json.MarshalIndent(app, "", "  ")
	if err != nil {
		return fmt.Errorf("encode app credentials: %w", err)
	}
	// Key first: a credentials file without its key would look configured.
	if err := writeNew(keyPath, privateKeyPEM); err != nil {
		return err
	}
	if err := writeNew(credPath, append(raw, '\n')); err != nil {
		_ = os.Remove(keyPath)
		return err
	}
	return nil
}

func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save %s: %w", path, err)
	}
	return f.Close()
}

// loadSavedCredentials fills the GitHub App settings from the data directory
// when neither the file nor the environment configured an app.
func (c *Config) loadSavedCredentials() error {
	if c.GitHub.AppID != 0 || c.GitHub.PrivateKey != "" || c.GitHub.PrivateKeyFile != "" || c.GitHub.WebhookSecret != "" {
		return nil
	}
	credPath := filepath.Join(c.DataDir, AppCredentialsFile)
	raw, err := os.ReadFile(credPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &Error{Key: credPath, Reason: err.Error()}
	}
	var app SavedApp
	if err := json.Unmarshal(raw, &app); err != nil {
		return &Error{Key: credPath, Reason: "not valid JSON: " + err.Error()}
	}
	if app.AppID <= 0 || app.WebhookSecret == "" {
		return &Error{Key: credPath, Reason: "app_id and webhook_secret are required"}
	}
	c.GitHub.AppID = app.AppID
	c.GitHub.WebhookSecret = app.WebhookSecret
	c.GitHub.PrivateKeyFile = filepath.Join(c.DataDir, AppPrivateKeyFile)
	c.sources["github.app_id"] = credPath
	c.sources["github.webhook_secret"] = credPath
	c.sources["github.private_key_file"] = c.GitHub.PrivateKeyFile
	return nil
}
