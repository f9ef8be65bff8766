package server

import (
	"context"
	"time"

	"github.com/agentgate/agentgate/internal/webhook"
	"github.com/agentgate/agentgate/store"
)

// payloadRetention is how long webhook payloads are kept for their jobs.
// Jobs finish or die within hours (max attempts × max backoff); a week
// leaves room to inspect and requeue dead ones. The delivery rows stay, so
// redeliveries of old GUIDs are still recognised.
const payloadRetention = 7 * 24 * time.Hour

// PrunePayloads is a reconciler repair that drops old delivery payloads.
type PrunePayloads struct {
	store *store.Store
	now   func() time.Time
}

// Name implements Repair.
func (*PrunePayloads) Name() string { return "prune-delivery-payloads" }

// Repair implements Repair.
func (p *PrunePayloads) Repair(ctx context.Context) error {
	n, err := p.store.PruneDeliveryPayloads(ctx, p.now().Add(-payloadRetention))
	if err != nil {
		return err
	}
	if n > 0 {
		webhook.Logger(ctx).Info("pruned old delivery payloads", "deliveries", n)
	}
	return nil
}
