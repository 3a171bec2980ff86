/*
 * sample.c - the sample state machine: THE ONLY PLACE A SAMPLE'S STATE CHANGES.
 *
 * A sample (one trial on the line) has a place on its chain (sample_state, with cur the
 * task it is at) and an outcome (what the engine was told). Every change is an event
 * below; each checks that it is legal in the current state, logs it (debug) and makes
 * the change, or logs and refuses an illegal one. The runner decides *when* an event
 * happens (a worker's message, a timer, a status sync); this file decides what it does.
 *
 *   deployed -> UNPLACED --placed--> WAITING --sent--> SENT --started--> RUNNING
 *   restored -> RECONCILING --resolved--> WAITING | SENT | RUNNING | ENDED
 *   SENT/RUNNING --finished--> DUE (next task) --turn--> WAITING ... or ENDED (last one)
 *   SENT --requeued (worker lost before it started)--> WAITING
 *   outcome: OPEN | WANTED --asked--> ASKED --taken--> OPEN;  any --reported--> REPORTED
 *   RUNNING --canceled (the trial ended by hand or by its TTL)--> RUNNING, canceled,
 *     outcome REPORTED: its task finishes, then the sample leaves the line
 *   DUE/WAITING, canceled --clearing--> DUE, clearing: the chain is cut after the step that ran and
 *     its film's move back to storage is the last task (clearing.c)
 */
#include "engine/lab/lab.h"
#include "proto/axl_log.h"

static const char *const state_names[] = {"reconciling", "unplaced", "waiting", "due",
                                          "sent",        "running",  "ended"};
static const char *const outcome_names[] = {"open", "wanted", "asked", "reported"};

const char *sample_state_name(sample_state st)
{
    return (unsigned)st < sizeof(state_names) / sizeof(state_names[0]) ? state_names[st] : "?";
}

static void set_state(sample *s, sample_state to, const char *ev)
{
    AXL_DEBUG(LAB_SRC, "trial %u (%s): %s, %s -> %s (task %u)", s->trial, s->name, ev,
              state_names[s->state], state_names[to], s->cur);
    s->state = to;
}

static void set_outcome(sample *s, sample_outcome to, const char *ev)
{
    AXL_DEBUG(LAB_SRC, "trial %u (%s): %s, outcome %s -> %s", s->trial, s->name, ev,
              outcome_names[s->outcome], outcome_names[to]);
    s->outcome = to;
}

static bool refuse(const sample *s, const char *ev)
{
    AXL_WARN(LAB_SRC, "trial %u (%s): event '%s' is not valid in state %s (task %u); ignored",
             s->trial, s->name, ev, state_names[s->state], s->cur);
    return false;
}

void sample_ev_deployed(sample *s)
{
    s->cur = 0;
    s->outcome = OUTCOME_OPEN;
    set_state(s, SAMPLE_UNPLACED, "deployed");
}

void sample_ev_restored(sample *s)
{
    s->cur = 0;
    s->outcome = OUTCOME_OPEN;
    set_state(s, SAMPLE_RECONCILING, "restored");
}

bool sample_ev_placed(sample *s)
{
    if (s->state != SAMPLE_UNPLACED)
        return refuse(s, "placed");
    set_state(s, SAMPLE_WAITING, "placed");
    return true;
}

bool sample_ev_resolved(sample *s, uint32_t p, axl_task_state st_p, bool char_done)
{
    if (s->state != SAMPLE_RECONCILING || p > s->chain.n)
        return refuse(s, "resolved");
    s->cur = p;
    if (char_done && s->outcome == OUTCOME_OPEN)
        set_outcome(s, OUTCOME_WANTED, "resolved: measured while the engine was away");
    if (p >= s->chain.n)
        set_state(s, SAMPLE_ENDED, "resolved");
    else if (st_p == AXL_TASK_RUNNING)
        set_state(s, SAMPLE_RUNNING, "resolved");
    else if (st_p == AXL_TASK_ACCEPTED)
        set_state(s, SAMPLE_SENT, "resolved");
    else
        set_state(s, SAMPLE_WAITING, "resolved"); /* unknown: to send; failed: to ask again */
    return true;
}

bool sample_ev_sent(sample *s)
{
    if (s->state != SAMPLE_WAITING || s->cur >= s->chain.n)
        return refuse(s, "sent");
    set_state(s, SAMPLE_SENT, "sent");
    return true;
}

bool sample_ev_started(sample *s)
{
    if (s->state != SAMPLE_SENT && s->state != SAMPLE_WAITING)
        return refuse(s, "started");
    set_state(s, SAMPLE_RUNNING, "started");
    return true;
}

bool sample_ev_requeued(sample *s)
{
    if (s->state != SAMPLE_SENT)
        return refuse(s, "requeued");
    set_state(s, SAMPLE_WAITING, "requeued");
    return true;
}

bool sample_ev_finished(sample *s)
{
    if (s->state != SAMPLE_SENT && s->state != SAMPLE_RUNNING && s->state != SAMPLE_WAITING)
        return refuse(s, "finished");
    s->cur++;
    set_state(s, s->cur >= s->chain.n ? SAMPLE_ENDED : SAMPLE_DUE, "finished");
    return true;
}

bool sample_ev_turn(sample *s)
{
    if (s->state != SAMPLE_DUE)
        return refuse(s, "turn");
    set_state(s, SAMPLE_WAITING, "turn");
    return true;
}

bool sample_ev_result_asked(sample *s)
{
    if (s->outcome != OUTCOME_WANTED)
        return refuse(s, "result asked");
    set_outcome(s, OUTCOME_ASKED, "result asked");
    return true;
}

bool sample_ev_result_taken(sample *s)
{
    if (s->outcome != OUTCOME_ASKED && s->outcome != OUTCOME_WANTED)
        return refuse(s, "result taken");
    set_outcome(s, OUTCOME_OPEN, "result taken");
    return true;
}

void sample_ev_reported(sample *s)
{
    if (s->outcome != OUTCOME_REPORTED)
        set_outcome(s, OUTCOME_REPORTED, "reported");
}

bool sample_ev_canceled(sample *s)
{
    if ((s->state != SAMPLE_RUNNING && s->state != SAMPLE_SENT) || s->canceled)
        return refuse(s, "canceled");
    s->canceled = true;
    AXL_DEBUG(LAB_SRC, "trial %u (%s): canceled while task %u runs", s->trial, s->name, s->cur);
    sample_ev_reported(s);
    return true;
}

bool sample_ev_clearing(sample *s, const axl_chain *cut, int plate, double temp)
{
    if ((s->state != SAMPLE_DUE && s->state != SAMPLE_WAITING) || !s->canceled || s->clearing ||
        cut->n != s->cur + 1)
        return refuse(s, "clearing");
    if (s->state == SAMPLE_WAITING)
        set_state(s, SAMPLE_DUE, "clearing"); /* goes out on the next turn */
    s->chain = *cut;
    s->clearing = true;
    s->clear_plate = plate;
    s->clear_temp = temp;
    s->char_index = s->chain.n; /* nothing of it is measured any more */
    AXL_DEBUG(LAB_SRC, "trial %u (%s): clearing, task %u takes its film back to storage", s->trial,
              s->name, s->cur);
    return true;
}
