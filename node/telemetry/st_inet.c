/* The internet speed test with libcurl (st_inet.h). */
#include "st_inet.h"

#include <curl/curl.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define INET_CHUNK (128u * 1024)
#define INET_CONNECT_MS 5000L
#define INET_SLACK_S 10 /* whole-transfer cap beyond the test's seconds */

struct inet_xfer {
	const struct tel_st_ctl *ctl;
	const char *phase;
	uint64_t t0, bytes, max;
	double seconds;
	int by_bytes, by_time;
	uint8_t *chunk;
	uint64_t last_progress;
};

static int inet_should_stop(struct inet_xfer *x)
{
	uint64_t now = cst_clock_mono_ns();

	if (x->ctl && x->ctl->cancel && atomic_load(x->ctl->cancel))
		return 1;
	if ((double)(now - x->t0) / 1e9 >= x->seconds) {
		x->by_time = 1;
		return 1;
	}
	if (x->ctl && x->ctl->progress && now - x->last_progress >= 200000000ull) {
		x->last_progress = now;
		x->ctl->progress(x->ctl->ctx, x->phase, x->bytes, (double)(now - x->t0) / 1e9);
	}
	return 0;
}

static size_t inet_write(char *p, size_t size, size_t n, void *user)
{
	struct inet_xfer *x = user;

	(void)p;
	x->bytes += size * n;
	if (x->bytes >= x->max) {
		x->by_bytes = 1;
		return 0; /* enough: curl stops with CURLE_WRITE_ERROR */
	}
	return inet_should_stop(x) ? 0 : size * n;
}

static size_t inet_read(char *p, size_t size, size_t n, void *user)
{
	struct inet_xfer *x = user;
	size_t want = size * n;

	if (inet_should_stop(x))
		return CURL_READFUNC_ABORT;
	if (want > INET_CHUNK)
		want = INET_CHUNK;
	if (want > x->max - x->bytes)
		want = (size_t)(x->max - x->bytes);
	memcpy(p, x->chunk, want);
	x->bytes += want;
	if (x->bytes >= x->max)
		x->by_bytes = 1;
	return want;
}

static int inet_xferinfo(void *user, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct inet_xfer *x = user;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	/* only the cancel matters here; time is checked where bytes move, so
	 * a stalled server is caught by CURLOPT_TIMEOUT instead */
	return x->ctl && x->ctl->cancel && atomic_load(x->ctl->cancel);
}

void tel_inet_url_host(const char *url, char *host, size_t cap)
{
	CURLU *u = curl_url();
	char *h = NULL;

	host[0] = 0;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK)
		snprintf(host, cap, "%s", h);
	curl_free(h);
	curl_url_cleanup(u);
}

static CURL *inet_easy(const char *url, struct inet_xfer *x, double seconds, char *ebuf)
{
	CURL *c = curl_easy_init();

	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, INET_CONNECT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)((seconds + INET_SLACK_S) * 1000));
	curl_easy_setopt(c, CURLOPT_USERAGENT, "constellad-speedtest/" CONSTELLA_VERSION);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, inet_xferinfo);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	return c;
}

/* Seconds from the request going out to the end (server time included, as
 * every HTTP speed test measures). */
static double inet_xfer_secs(CURL *c)
{
	curl_off_t total = 0, pre = 0;

	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &total);
	curl_easy_getinfo(c, CURLINFO_PRETRANSFER_TIME_T, &pre);
	return total > pre ? (double)(total - pre) / 1e6 : 0;
}

/* Runs one transfer, its clock starting now. */
static CURLcode inet_perform(CURL *c, struct inet_xfer *x)
{
	if (x->ctl && x->ctl->progress)
		x->ctl->progress(x->ctl->ctx, x->phase, 0, 0);
	x->t0 = x->last_progress = cst_clock_mono_ns();
	return curl_easy_perform(c);
}

static int inet_cancelled(const struct tel_st_ctl *ctl, char *err, size_t errlen)
{
	if (!ctl || !ctl->cancel || !atomic_load(ctl->cancel))
		return 0;
	snprintf(err, errlen, "cancelled");
	return 1;
}

static void inet_describe(CURL *c, CURLcode rc, const char *ebuf, char *err, size_t errlen)
{
	long code = 0;

	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (rc == CURLE_HTTP_RETURNED_ERROR && code)
		snprintf(err, errlen, "HTTP %ld", code);
	else
		snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
}

int tel_inet_run(const char *url, const char *upload_url, double seconds, uint64_t max_bytes,
		 const struct tel_st_ctl *ctl, struct tel_inet_figures *f, char *err,
		 size_t errlen)
{
	struct inet_xfer x = { .ctl = ctl, .seconds = seconds, .max = max_bytes };
	struct inet_xfer sink = { .max = UINT64_MAX, .seconds = 1e9 }; /* the upload's answer */
	struct curl_slist *hdr = NULL;
	char ebuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	CURL *c;
	curl_off_t conn = 0, dns = 0;
	int r = 0;

	memset(f, 0, sizeof(*f));
	/* download */
	x.phase = "download";
	if (!(c = inet_easy(url, &x, seconds, ebuf)))
		return -ENOMEM;
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, inet_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	rc = inet_perform(c, &x);
	if (inet_cancelled(ctl, err, errlen)) {
		r = -ECANCELED;
		goto out;
	}
	if (!(rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && (x.by_bytes || x.by_time))) ||
	    x.bytes == 0) {
		char why[200];

		inet_describe(c, rc, ebuf, why, sizeof(why));
		snprintf(err, errlen, "download: %s", rc == CURLE_OK ? "empty answer" : why);
		r = -EIO;
		goto out;
	}
	f->down_bytes = x.bytes;
	f->down_s = inet_xfer_secs(c);
	f->limited_by_bytes = x.by_bytes;
	curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &conn);
	curl_easy_getinfo(c, CURLINFO_NAMELOOKUP_TIME_T, &dns);
	f->rtt_ms = conn > dns ? (double)(conn - dns) / 1000.0 : 0;
	curl_easy_cleanup(c);

	/* upload */
	memset(&x, 0, sizeof(x));
	x.ctl = ctl;
	x.seconds = seconds;
	x.max = max_bytes;
	x.phase = "upload";
	ebuf[0] = 0;
	if (!(x.chunk = malloc(INET_CHUNK)) || !(c = inet_easy(upload_url, &x, seconds, ebuf))) {
		c = NULL;
		r = -ENOMEM;
		goto out;
	}
	randombytes_buf(x.chunk, INET_CHUNK);
	hdr = curl_slist_append(hdr, "Content-Type: application/octet-stream");
	hdr = curl_slist_append(hdr, "Expect:"); /* no 100-continue round trip */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)max_bytes);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, inet_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, inet_write); /* the answer's body: counted, dropped */
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	rc = inet_perform(c, &x);
	if (inet_cancelled(ctl, err, errlen)) {
		r = -ECANCELED;
		goto out;
	}
	if ((rc == CURLE_OK || (rc == CURLE_ABORTED_BY_CALLBACK && x.by_time)) && x.bytes) {
		curl_off_t up = 0;

		curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up);
		f->up_ok = 1;
		f->up_bytes = up > 0 ? (uint64_t)up : x.bytes;
		f->up_s = inet_xfer_secs(c);
		f->limited_by_bytes |= x.by_bytes;
	} else {
		inet_describe(c, rc, ebuf, f->up_error, sizeof(f->up_error));
	}
out:
	if (c)
		curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	free(x.chunk);
	return r;
}
