package clinic

// Status is the state of a consultation.
type Status string

// The consultation statuses. Completed, cancelled and no-show are final.
const (
	StatusRequested  Status = "requested"
	StatusScheduled  Status = "scheduled"
	StatusWaiting    Status = "waiting"
	StatusInProgress Status = "in_progress"
	StatusCompleted  Status = "completed"
	StatusCancelled  Status = "cancelled"
	StatusNoShow     Status = "no_show"
)

// Trigger is the cause of a status change.
type Trigger string

// The triggers of status changes: the four API operations and the
// signaling hub (SetStatus).
const (
	TriggerConfirm           Trigger = "confirm"
	TriggerCancel            Trigger = "cancel"
	TriggerRescheduleStaff   Trigger = "reschedule by staff"
	TriggerReschedulePatient Trigger = "reschedule by patient"
	TriggerHub               Trigger = "hub"
)

// Transition is one allowed status change.
type Transition struct {
	From, To Status
	By       Trigger
}

// transitions is the complete state machine; any change not listed is
// rejected with ErrInvalidTransition. A patient moving a scheduled
// consultation sends it back to requested, so a clinician confirms the new
// times. docs/api.md lists the same table.
var transitions = []Transition{
	{StatusRequested, StatusScheduled, TriggerConfirm},
	{StatusRequested, StatusCancelled, TriggerCancel},
	{StatusRequested, StatusRequested, TriggerRescheduleStaff},
	{StatusRequested, StatusRequested, TriggerReschedulePatient},

	{StatusScheduled, StatusCancelled, TriggerCancel},
	{StatusScheduled, StatusScheduled, TriggerRescheduleStaff},
	{StatusScheduled, StatusRequested, TriggerReschedulePatient},
	{StatusScheduled, StatusWaiting, TriggerHub},
	{StatusScheduled, StatusInProgress, TriggerHub},
	{StatusScheduled, StatusNoShow, TriggerHub},

	{StatusWaiting, StatusInProgress, TriggerHub},
	{StatusWaiting, StatusScheduled, TriggerHub},
	{StatusWaiting, StatusNoShow, TriggerHub},
	{StatusWaiting, StatusCancelled, TriggerCancel},

	{StatusInProgress, StatusCompleted, TriggerHub},
}

// Transitions returns a copy of the state machine's table.
func Transitions() []Transition { return append([]Transition(nil), transitions...) }

// CanTransition reports whether by may move a consultation from one status
// to another.
func CanTransition(from, to Status, by Trigger) bool {
	for _, t := range transitions {
		if t.From == from && t.To == to && t.By == by {
			return true
		}
	}
	return false
}

// rescheduleTarget returns the status after a reschedule by the given
// trigger, and false when the current status cannot be rescheduled.
func rescheduleTarget(from Status, by Trigger) (Status, bool) {
	for _, t := range transitions {
		if t.From == from && t.By == by {
			return t.To, true
		}
	}
	return "", false
}

// joinable reports whether participants may enter a consultation in s.
func (s Status) joinable() bool {
	return s == StatusScheduled || s == StatusWaiting || s == StatusInProgress
}

// Final reports whether no further transition leaves s.
func (s Status) Final() bool {
	return s == StatusCompleted || s == StatusCancelled || s == StatusNoShow
}
