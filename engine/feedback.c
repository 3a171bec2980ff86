/*
 * feedback.c - what a person watching `axle run` sees while trials run.
 *
 *  - progress mode: one line with the counts, the best so far, the elapsed time and an
 *    estimate of the time left (from the rate at which trials have ended). On a terminal
 *    it is redrawn in place; on anything else (make demo under a pipe, a log file) it is
 *    printed as a new line each time a trial ends.
 *  - log mode: Ax's "Waiting for completed trials (for N sec, currently running trials:
 *    [..])." while trials run and none ends, on a backing-off timer (1 s, then x1.5 up
 *    to a minute), reset by every trial that ends, as Ax's Scheduler logs between polls.
 */
#include "engine/campaign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/axl_log.h"

#define FIRST_WAIT_MS 1000.0
#define MAX_WAIT_MS 60000.0

struct axl_feedback {
    uv_timer_t timer;
    axl_campaign *c;
    double started;      /* the campaign's start, for elapsed and the rate */
    double wait_since;   /* the last time a trial ended (or waiting began) */
    double next_ms;      /* the next interval of the waiting message */
    uint32_t ended;      /* trials ended when last seen */
    uint32_t ended_base; /* trials ended before this run (resume) */
    bool tty;
    bool waiting; /* the timer runs */
};

static uint32_t ended_count(const axl_campaign *c)
{
    return axl_trials_count(c, AXL_MASK(AXL_TRIAL_COMPLETED) | AXL_MASK(AXL_TRIAL_FAILED) |
                                   AXL_MASK(AXL_TRIAL_ABANDONED) |
                                   AXL_MASK(AXL_TRIAL_EARLY_STOPPED));
}

static void format_duration(double s, char *buf, size_t size)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

static void wait_cb(uv_timer_t *h)
{
    axl_feedback *f = h->data;
    axl_campaign *c = f->c;
    uint32_t idx[256], n = 0;
    for (uint32_t i = 0; i < c->n_trials && n < 256; i++)
        if (c->trials[i].status == AXL_TRIAL_RUNNING)
            idx[n++] = c->trials[i].index;
    if (n == 0 || c->stopping) {
        f->waiting = false;
        return;
    }
    char list[512]; /* as Ax prints it: a Python list */
    size_t len = (size_t)snprintf(list, sizeof(list), "[");
    for (uint32_t k = 0; k < n && len + 24 < sizeof(list); k++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%u", k ? ", " : "", idx[k]);
    if (len + 24 >= sizeof(list))
        len += (size_t)snprintf(list + len, sizeof(list) - len, ", ...");
    snprintf(list + len, sizeof(list) - len, "]");
    AXL_INFO("Scheduler",
             "Waiting for completed trials (for %d sec, currently running trials: %s).",
             (int)(axl_now() - f->wait_since + 0.5), list);
    f->next_ms = f->next_ms * 1.5 < MAX_WAIT_MS ? f->next_ms * 1.5 : MAX_WAIT_MS;
    uv_timer_start(&f->timer, wait_cb, (uint64_t)f->next_ms, 0);
}

int axl_feedback_open(axl_campaign *c)
{
    axl_feedback *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return AXL_ENOMEM;
    f->c = c;
    f->started = f->wait_since = axl_now();
    f->ended = f->ended_base = ended_count(c);
    f->tty = isatty(STDERR_FILENO);
    f->next_ms = FIRST_WAIT_MS;
    uv_timer_init(c->loop, &f->timer);
    f->timer.data = f;
    uv_unref((uv_handle_t *)&f->timer); /* never keeps the loop alive on its own */
    c->feedback = f;
    return 0;
}

static void progress_line(axl_campaign *c, axl_feedback *f, bool final)
{
    uint32_t done = axl_trials_count(c, AXL_MASK(AXL_TRIAL_COMPLETED));
    uint32_t running = axl_trials_count(c, AXL_PENDING_MASK);
    uint32_t failed =
        axl_trials_count(c, AXL_MASK(AXL_TRIAL_FAILED) | AXL_MASK(AXL_TRIAL_ABANDONED));
    uint32_t ended = ended_count(c);
    char total[32] = "", best[160] = "", elapsed[32], left[48] = "";
    if (c->max_trials >= 0)
        snprintf(total, sizeof(total), "/%d", c->max_trials);
    if (c->has_best)
        snprintf(best, sizeof(best), " | best %s %.6g (trial %u)", c->exp->metric, c->best_value,
                 c->best_trial);
    double t = axl_now() - f->started;
    format_duration(t, elapsed, sizeof(elapsed));
    uint32_t this_run = ended - f->ended_base;
    if (!final && c->max_trials >= 0 && this_run > 0 && (uint32_t)c->max_trials > ended) {
        char eta[32];
        format_duration(t / this_run * (double)((uint32_t)c->max_trials - ended), eta, sizeof(eta));
        snprintf(left, sizeof(left), ", ~%s left", eta);
    }
    if (f->tty)
        fprintf(stderr, "\r\033[K");
    fprintf(stderr, "%s: %u%s done | %u running | %u failed%s | %s elapsed%s", c->exp->name, done,
            total, running, failed, best, elapsed, left);
    if (final || !f->tty)
        fputc('\n', stderr);
    fflush(stderr);
    c->progress_shown = f->tty && !final;
}

void axl_feedback_turn(axl_campaign *c, bool final)
{
    axl_feedback *f = c->feedback;
    if (f == NULL)
        return;
    uint32_t ended = ended_count(c);
    bool trial_ended = ended != f->ended;
    f->ended = ended;
    if (c->opt.progress) {
        if (f->tty || trial_ended || final)
            progress_line(c, f, final);
        return;
    }
    if (final) {
        uv_timer_stop(&f->timer);
        f->waiting = false;
        return;
    }
    uint32_t running = axl_trials_count(c, AXL_MASK(AXL_TRIAL_RUNNING));
    if (running == 0) {
        uv_timer_stop(&f->timer);
        f->waiting = false;
    } else if (trial_ended || !f->waiting) {
        f->wait_since = axl_now();
        f->next_ms = FIRST_WAIT_MS;
        f->waiting = true;
        uv_timer_start(&f->timer, wait_cb, (uint64_t)f->next_ms, 0);
    }
}

static void feedback_closed(uv_handle_t *h)
{
    free(h->data);
}

void axl_feedback_close(axl_campaign *c)
{
    axl_feedback *f = c->feedback;
    if (f == NULL)
        return;
    c->feedback = NULL;
    uv_timer_stop(&f->timer);
    uv_close((uv_handle_t *)&f->timer, feedback_closed);
}
