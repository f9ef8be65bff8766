package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-github/v89/github"

	"github.com/agentgate/agentgate/dispatch/command"
	"github.com/agentgate/agentgate/policy"
	"github.com/agentgate/agentgate/store"
)

// Labeled handles a label added to an issue: the configured label starts a
// task, the quick label one that skips plan approval.
func (d *Dispatcher) Labeled(ctx context.Context, o Origin, issue Issue, label string) error {
	if issue.IsPullRequest {
		return nil
	}
	client, err := d.gh.Installation(o.InstallationID)
	if err != nil {
		return err
	}
	me, err := d.self(ctx, client)
	if err != nil {
		return err
	}
	if strings.EqualFold(o.Sender.Login, me.Login) {
		return nil // our own state labels
	}
	cfg, err := d.repoConfig(ctx, client, o.Repo)
	var cfgErr *policy.ConfigError
	if errors.As(err, &cfgErr) {
		if strings.EqualFold(label, policy.DefaultConfig().Dispatch.Label) {
			return d.reply(ctx, client, o.Repo, issue.Number, fmt.Sprintf("@%s I cannot start: the repository's agent configuration is broken: `%s`.", o.Sender.Login, cfgErr.Error()))
		}
		return nil
	}
	if err != nil {
		return err
	}
	quick := strings.EqualFold(label, cfg.Dispatch.QuickLabel)
	if !quick && !strings.EqualFold(label, cfg.Dispatch.Label) {
		return nil
	}
	if ok, why, err := d.mayCommand(ctx, client, o.Repo, o.Sender, cfg); err != nil {
		return err
	} else if !ok {
		return d.reply(ctx, client, o.Repo, issue.Number, fmt.Sprintf("@%s thanks, but only people with write access can hand an issue to an agent (%s). Someone with write access can add the `%s` label.", o.Sender.Login, why, label))
	}
	return d.start(ctx, client, o, issue, cfg, quick || !cfg.Dispatch.RequirePlanApproval, "label", "label `"+label+"`")
}

// Comment is a normalised comment with where it was made.
type Comment struct {
	command.Comment
	Origin Origin
	Issue  Issue
}

// Commented handles a new comment, review comment or review body that may
// hold /agent commands.
func (d *Dispatcher) Commented(ctx context.Context, c Comment) error {
	if c.Edited {
		return nil // an edit never triggers: the command was (or was not) acted on when written
	}
	cmds, perrs := command.Parse(c.Body)
	if len(cmds) == 0 && len(perrs) == 0 {
		return nil
	}
	client, err := d.gh.Installation(c.Origin.InstallationID)
	if err != nil {
		return err
	}
	me, err := d.self(ctx, client)
	if err != nil {
		return err
	}
	if strings.EqualFold(c.Author, me.Login) {
		return nil // our own comments quote commands; they never trigger
	}
	repo := c.Origin.Repo
	cfg, err := d.repoConfig(ctx, client, repo)
	var cfgErr *policy.ConfigError
	if errors.As(err, &cfgErr) {
		return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s I cannot act on commands here: the repository's agent configuration is broken: `%s`.", c.Author, cfgErr.Error()))
	}
	if err != nil {
		return err
	}
	author := Person{Login: c.Author, ID: c.AuthorID, Type: c.AuthorType}
	ok, why, err := d.mayCommand(ctx, client, repo, author, cfg)
	if err != nil {
		return err
	}
	if !ok {
		return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s thanks, but only people with write, maintain or admin access can use agent commands (%s), so I did not act on %s.", c.Author, why, quote(firstLine(c.Body, cmds, perrs))))
	}
	for _, pe := range perrs {
		msg := fmt.Sprintf("@%s I did not understand %s: %s", c.Author, quote(pe.Raw), pe.Message)
		if pe.Usage != "" {
			msg += "\n\nUsage: `" + pe.Usage + "`. Comment `/agent help` for every command."
		}
		if err := d.reply(ctx, client, repo, c.Number, msg); err != nil {
			return err
		}
	}
	if len(cmds) > 0 {
		d.react(ctx, client, repo, c.Comment)
	}
	for _, cmd := range cmds {
		if err := d.command(ctx, client, c, cfg, cmd); err != nil {
			return err
		}
	}
	return nil
}

func firstLine(body string, cmds []command.Command, perrs []command.Error) string {
	if len(cmds) > 0 {
		return cmds[0].Raw
	}
	if len(perrs) > 0 {
		return perrs[0].Raw
	}
	return strings.SplitN(body, "\n", 2)[0]
}

// command acts on one accepted command.
func (d *Dispatcher) command(ctx context.Context, client *github.Client, c Comment, cfg policy.Config, cmd command.Command) error {
	repo, who := c.Origin.Repo, c.Author
	switch cmd.Verb {
	case command.VerbHelp:
		return d.reply(ctx, client, repo, c.Number, command.Help("agentgate"))
	case command.VerbStatus:
		t, err := d.taskFor(ctx, repo, c.Number, c.IsPullRequest)
		if errors.Is(err, store.ErrNotFound) {
			return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s there is no agent task here. Label the issue `%s` or comment `/agent run` to start one.", who, cfg.Dispatch.Label))
		}
		if err != nil {
			return err
		}
		return d.reply(ctx, client, repo, c.Number, d.statusLine(ctx, t))
	case command.VerbRun, command.VerbPlan:
		if c.IsPullRequest {
			t, err := d.taskFor(ctx, repo, c.Number, true)
			if err != nil {
				return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s `/agent %s` works on issues; this pull request has no agent task.", who, cmd.Verb))
			}
			return d.reply(ctx, client, repo, c.Number, d.statusLine(ctx, t))
		}
		t, err := d.store.LatestTaskOfIssue(ctx, repo.FullName, c.Number)
		if err == nil && t.Active {
			if cmd.Verb == command.VerbPlan && (State(t.State) == AwaitingApproval) {
				return d.replan(ctx, client, c, t)
			}
			return d.reply(ctx, client, repo, c.Number, d.statusLine(ctx, t))
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		quick := !cfg.Dispatch.RequirePlanApproval && cmd.Verb == command.VerbRun
		return d.start(ctx, client, c.Origin, c.Issue, cfg, quick, "command", "`/agent "+string(cmd.Verb)+"`")
	case command.VerbApprove:
		return d.approve(ctx, client, c, cmd.Arg)
	case command.VerbRevise:
		return d.revise(ctx, client, c, cmd.Arg, "")
	case command.VerbRetry:
		return d.retry(ctx, client, c)
	case command.VerbCancel:
		return d.cancel(ctx, client, c)
	}
	return d.reply(ctx, client, repo, c.Number, fmt.Sprintf("@%s I do not know `/agent %s`. Comment `/agent help` for the list.", who, cmd.Verb))
}

// taskFor finds the task an issue or pull request comment is about.
func (d *Dispatcher) taskFor(ctx context.Context, repo Repo, number int, isPull bool) (store.Task, error) {
	if isPull {
		return d.store.LatestTaskOfPull(ctx, repo.FullName, number)
	}
	return d.store.LatestTaskOfIssue(ctx, repo.FullName, number)
}

// mayCommand checks the repository permission of who (never the
// author_association a payload claims): write, maintain or admin; bots
// only when the repository allow-lists them.
func (d *Dispatcher) mayCommand(ctx context.Context, client *github.Client, repo Repo, who Person, cfg policy.Config) (bool, string, error) {
	if who.Type == "Bot" || strings.HasSuffix(who.Login, "[bot]") {
		for _, b := range cfg.Dispatch.AllowBots {
			if strings.EqualFold(b, who.Login) {
				return true, "", nil
			}
		}
		return false, "bots must be listed in dispatch.allow_bots of .github/agentgate.yml", nil
	}
	owner, name := repo.split()
	perm, _, err := client.Repositories.GetPermissionLevel(ctx, owner, name, who.Login)
	if isNotFound(err) {
		return false, "you are not a collaborator", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("permission of %s on %s: %w", who.Login, repo.FullName, err)
	}
	level := perm.GetRoleName()
	if level == "" {
		level = perm.GetPermission()
	}
	switch level {
	case "admin", "maintain", "write":
		return true, "", nil
	}
	if level == "" {
		level = "none"
	}
	return false, "your permission is " + level, nil
}

// react puts 👀 on an accepted command's comment (reviews have no reactions).
func (d *Dispatcher) react(ctx context.Context, client *github.Client, repo Repo, c command.Comment) {
	owner, name := repo.split()
	var err error
	switch {
	case c.CommentID == 0:
		return
	case c.Source == command.ReviewComment:
		_, _, err = client.Reactions.CreatePullRequestCommentReaction(ctx, owner, name, c.CommentID, "eyes")
	default:
		_, _, err = client.Reactions.CreateIssueCommentReaction(ctx, owner, name, c.CommentID, "eyes")
	}
	if err != nil {
		d.log.WarnContext(ctx, "could not react to a command", "repository", repo.FullName, "comment", c.CommentID, "err", err)
	}
}

// Reviewed handles a submitted pull request review: its body may hold
// commands, and a "changes requested" review by a writer starts a revision
// when the repository asks for that.
func (d *Dispatcher) Reviewed(ctx context.Context, c Comment, state string, reviewID int64) error {
	if err := d.Commented(ctx, c); err != nil {
		return err
	}
	if !strings.EqualFold(state, "changes_requested") {
		return nil
	}
	cmds, _ := command.Parse(c.Body)
	if len(cmds) > 0 {
		return nil // the commands in the body said what to do
	}
	t, err := d.store.LatestTaskOfPull(ctx, c.Origin.Repo.FullName, c.Number)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	client, err := d.gh.Installation(c.Origin.InstallationID)
	if err != nil {
		return err
	}
	cfg, err := d.repoConfig(ctx, client, c.Origin.Repo)
	if err != nil || !cfg.Dispatch.ReviseOnChangesRequested {
		return nil
	}
	author := Person{Login: c.Author, ID: c.AuthorID, Type: c.AuthorType}
	if ok, _, err := d.mayCommand(ctx, client, c.Origin.Repo, author, cfg); err != nil || !ok {
		return err
	}
	comments, err := d.reviewComments(ctx, client, c.Origin.Repo, c.Number, reviewID)
	if err != nil {
		return err
	}
	_ = t
	return d.revise(ctx, client, c, c.Body, comments)
}

// PullClosed finishes the task of an agent pull request that was merged or
// closed, and deletes its branch.
func (d *Dispatcher) PullClosed(ctx context.Context, o Origin, number int, merged bool) error {
	t, err := d.store.LatestTaskOfPull(ctx, o.Repo.FullName, number)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	to, reason := Closed, fmt.Sprintf("pull request #%d was closed without merging", number)
	if merged {
		to, reason = Merged, fmt.Sprintf("pull request #%d was merged", number)
	}
	if State(t.State).Terminal() {
		return nil // a redelivery
	}
	// Runs still queued or running stop: nothing may push to the branch of
	// a closed pull request.
	err = d.move(ctx, t, to, o.Sender.Login, reason, o.DeliveryID, func(tx *store.Tx, t store.Task) error {
		return stopRuns(ctx, tx, t.ID, reason, d.now())
	})
	if err != nil && !errors.Is(err, store.ErrStale) {
		return err
	}
	client, err := d.gh.Installation(o.InstallationID)
	if err != nil {
		return err
	}
	d.deleteBranch(ctx, client, t)
	return d.sync(ctx, t.ID)
}
