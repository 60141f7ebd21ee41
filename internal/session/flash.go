package session

import "context"

// keyRestored holds the id of the deal auto-restore last put back, until
// the deal's page has said so.
const keyRestored = "restored_deal_id"

// FlashRestored records that dealID was just restored into the session, so
// the next page of that deal can say so once.
func (m *Manager) FlashRestored(ctx context.Context, dealID int64) { m.put(ctx, keyRestored, dealID) }

// PopRestored returns, once, the deal id FlashRestored recorded, or 0.
func (m *Manager) PopRestored(ctx context.Context) int64 {
	forget(ctx)
	id, _ := m.sm.Pop(ctx, keyRestored).(int64)
	return id
}
