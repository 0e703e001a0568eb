/* The internet speed test: a download (GET) from SPEEDTEST_URL and an upload
 * (POST of random bytes) to SPEEDTEST_UPLOAD_URL (default: the same URL),
 * with libcurl, each bounded in time and bytes (a download stops within the
 * read that crosses the bound: at most 16 KiB more, libcurl's buffer). Blocking: runs on a worker
 * thread of speedtest.c. No built-in endpoint: the owner names one (any
 * HTTP(S) server with a large file; for the upload, one that accepts a POST). */
#ifndef TEL_ST_INET_H
#define TEL_ST_INET_H

#include <stddef.h>
#include <stdint.h>

#include "st_proto.h"

struct tel_inet_figures {
	double rtt_ms;               /* TCP connect time of the download */
	uint64_t down_bytes, up_bytes;
	double down_s, up_s;
	int limited_by_bytes;
	int up_ok;                   /* 0: up_error says why */
	char up_error[128];
};

/* The host of url ("" when it has none), for results and logs: a URL may
 * carry a key, the host does not. */
void tel_inet_url_host(const char *url, char *host, size_t cap);

/* 0 when the download worked (the upload may still have failed: up_ok), or
 * -errno with a reason in err. */
int tel_inet_run(const char *url, const char *upload_url, double seconds, uint64_t max_bytes,
		 const struct tel_st_ctl *ctl, struct tel_inet_figures *f, char *err,
		 size_t errlen);

#endif
