package command

// Source says where a comment was written.
type Source string

// The kinds of comment commands are read from.
const (
	// IssueComment is a comment on an issue or on a pull request's
	// conversation (GitHub's issue_comment event).
	IssueComment Source = "issue_comment"
	// ReviewComment is a comment on a line of a pull request's diff
	// (pull_request_review_comment).
	ReviewComment Source = "review_comment"
	// Review is the body of a submitted pull-request review
	// (pull_request_review).
	Review Source = "review"
)

// Comment is a comment from any Source, in one shape, so that command
// handling does not depend on where the text was written.
type Comment struct {
	Source Source
	// Repo is "owner/name".
	Repo string
	// Number is the issue or pull-request number.
	Number        int
	IsPullRequest bool
	// CommentID is the comment's id; 0 for a review body.
	CommentID int64
	// ReviewID is the review's id for a review or a review comment.
	ReviewID int64
	// Author is the login of the person or app that wrote the comment.
	Author string
	// AuthorType is GitHub's user type: "User" or "Bot".
	AuthorType string
	AuthorID   int64
	Body       string
	// Edited is set when the event is an edit; edits never trigger commands.
	Edited bool
	// URL is the comment's (or review's) HTML address, for replies and logs.
	URL string
}

// Commands parses the comment's body (see Parse).
func (c Comment) Commands() ([]Command, []Error) {
	return Parse(c.Body)
}

// IsBot reports whether the comment was written by a bot or an app.
func (c Comment) IsBot() bool {
	return c.AuthorType == "Bot"
}
