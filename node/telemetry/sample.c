/* Deriving a sample from two readings (sample.h). */
#include "sample.h"

#include <math.h>
#include <string.h>

uint64_t tel_counter_delta(uint64_t prev, uint64_t cur)
{
	if (cur >= prev)
		return cur - prev;
	if (prev <= UINT32_MAX)
		return cur + (UINT64_C(1) << 32) - prev;
	return cur;
}

static double tel_busy(const struct tel_cpu_times *t, uint64_t *all)
{
	uint64_t sum = 0;

	for (int i = 0; i < TEL_CPU_NFIELDS; i++)
		sum += t->t[i];
	*all = sum;
	return (double)(sum - t->t[TEL_CPU_IDLE] - t->t[TEL_CPU_IOWAIT]);
}

/* Busy share of the ticks between two readings of one CPU line. */
static double tel_cpu_pct(const struct tel_cpu_times *a, const struct tel_cpu_times *b)
{
	uint64_t all_a, all_b;
	double busy_a, busy_b, pct;

	if (!a->present || !b->present)
		return NAN;
	busy_a = tel_busy(a, &all_a);
	busy_b = tel_busy(b, &all_b);
	/* counters of an offlined and re-onlined core can restart */
	if (all_b <= all_a || busy_b < busy_a)
		return NAN;
	pct = 100.0 * (busy_b - busy_a) / (double)(all_b - all_a);
	return pct > 100.0 ? 100.0 : pct;
}

static double tel_rate(uint64_t prev, uint64_t cur, double dt)
{
	return dt > 0 ? (double)tel_counter_delta(prev, cur) / dt : NAN;
}

static double tel_used_pct(uint64_t total, uint64_t free_b, uint64_t avail)
{
	/* as df: used / (used + available to users), root's reserve excluded */
	uint64_t used = total > free_b ? total - free_b : 0;

	return used + avail ? 100.0 * (double)used / (double)(used + avail) : 0.0;
}

static const struct tel_iface *tel_find_iface(const struct tel_raw *r, const char *name)
{
	for (size_t i = 0; r && i < r->n_ifaces; i++)
		if (!strcmp(r->ifaces[i].name, name))
			return &r->ifaces[i];
	return NULL;
}

static void tel_fill_iface(struct tel_sample_iface *o, const struct tel_iface *cur,
			   const struct tel_iface *prev, double dt)
{
	memcpy(o->name, cur->name, sizeof(o->name));
	o->rx_bytes = cur->rx_bytes;
	o->tx_bytes = cur->tx_bytes;
	o->rx_rate = prev ? tel_rate(prev->rx_bytes, cur->rx_bytes, dt) : NAN;
	o->tx_rate = prev ? tel_rate(prev->tx_bytes, cur->tx_bytes, dt) : NAN;
}

/* Adds x to *sum; a NAN part makes the sum unknown only if nothing else is known. */
static void tel_add(double *sum, int *known, double x)
{
	if (isnan(x))
		return;
	*sum += x;
	*known = 1;
}

void tel_sample_derive(struct tel_sample *s, const struct tel_raw *prev, const struct tel_raw *cur,
		       const char *overlay_if)
{
	double dt;
	int net_known = 0, disk_known = 0;

	memset(s, 0, sizeof(*s));
	if (prev && !prev->ok)
		prev = NULL;
	dt = prev && cur->mono_ns > prev->mono_ns ? (double)(cur->mono_ns - prev->mono_ns) / 1e9 : 0;
	s->valid = 1;
	s->ts = cur->wall;
	s->interval_s = dt;
	s->uptime = cur->ok & TEL_RAW_UPTIME ? cur->uptime : NAN;
	for (int i = 0; i < 3; i++)
		s->load[i] = cur->ok & TEL_RAW_LOAD ? cur->load[i] : NAN;
	s->procs = cur->procs;
	s->procs_ok = !!(cur->ok & TEL_RAW_PROCS);

	/* CPU */
	s->cpu_total = cur->total;
	s->cpu_pct = NAN;
	s->n_cores = cur->ok & TEL_RAW_STAT ? cur->n_cores : 0;
	for (unsigned i = 0; i < s->n_cores; i++)
		s->core_pct[i] = NAN;
	if (prev && (prev->ok & TEL_RAW_STAT) && (cur->ok & TEL_RAW_STAT)) {
		s->cpu_pct = tel_cpu_pct(&prev->total, &cur->total);
		for (unsigned i = 0; i < s->n_cores && i < prev->n_cores; i++)
			s->core_pct[i] = tel_cpu_pct(&prev->cores[i], &cur->cores[i]);
	}

	/* memory */
	s->mem_ok = !!(cur->ok & TEL_RAW_MEM);
	s->mem = cur->mem;
	s->mem_used_pct = s->swap_used_pct = NAN;
	if (s->mem_ok) {
		s->mem_used_pct = cur->mem.total ?
			100.0 * (double)(cur->mem.total - cur->mem.available) / (double)cur->mem.total : 0;
		s->swap_used_pct = cur->mem.swap_total ?
			100.0 * (double)(cur->mem.swap_total - cur->mem.swap_free) /
				(double)cur->mem.swap_total : 0;
	}

	/* network */
	s->net_rx_rate = s->net_tx_rate = 0;
	for (size_t i = 0; (cur->ok & TEL_RAW_NET) && i < cur->n_ifaces; i++) {
		const struct tel_iface *c = &cur->ifaces[i];
		const struct tel_iface *p = prev ? tel_find_iface(prev, c->name) : NULL;

		if (!strcmp(c->name, "lo"))
			continue;
		if (overlay_if && *overlay_if && !strcmp(c->name, overlay_if)) {
			s->overlay_present = 1;
			tel_fill_iface(&s->overlay, c, p, dt);
			continue;
		}
		tel_fill_iface(&s->ifaces[s->n_ifaces], c, p, dt);
		tel_add(&s->net_rx_rate, &net_known, s->ifaces[s->n_ifaces].rx_rate);
		tel_add(&s->net_tx_rate, &net_known, s->ifaces[s->n_ifaces].tx_rate);
		s->n_ifaces++;
	}
	if (!net_known)
		s->net_rx_rate = s->net_tx_rate = NAN;

	/* disks */
	s->disk_read_rate = s->disk_write_rate = 0;
	for (size_t i = 0; i < cur->n_mounts; i++) {
		const struct tel_mount *m = &cur->mounts[i];
		const struct tel_fs *f = &cur->fs[i], *pf = NULL;
		struct tel_sample_disk *d = &s->disks[s->n_disks++];

		memcpy(d->mount_point, m->mount_point, sizeof(d->mount_point));
		memcpy(d->device, m->device, sizeof(d->device));
		memcpy(d->fstype, m->fstype, sizeof(d->fstype));
		d->fs_ok = f->ok;
		d->total = f->total;
		d->free = f->free;
		d->avail = f->avail;
		d->used_pct = f->ok ? tel_used_pct(f->total, f->free, f->avail) : NAN;
		d->io_ok = f->io_ok;
		d->read_bytes = f->io.sectors_read * 512;
		d->written_bytes = f->io.sectors_written * 512;
		d->read_rate = d->write_rate = NAN;
		for (size_t j = 0; prev && j < prev->n_mounts; j++)
			if (prev->mounts[j].major == m->major && prev->mounts[j].minor == m->minor)
				pf = &prev->fs[j];
		if (pf && pf->io_ok && f->io_ok) {
			/* the kernel's counters are sectors: a 32-bit one wraps in sectors */
			d->read_rate = 512 * tel_rate(pf->io.sectors_read, f->io.sectors_read, dt);
			d->write_rate = 512 * tel_rate(pf->io.sectors_written, f->io.sectors_written, dt);
			tel_add(&s->disk_read_rate, &disk_known, d->read_rate);
			tel_add(&s->disk_write_rate, &disk_known, d->write_rate);
		}
	}
	if (!disk_known)
		s->disk_read_rate = s->disk_write_rate = NAN;
	s->root_ok = cur->root_fs.ok;
	s->root_total = cur->root_fs.total;
	s->root_avail = cur->root_fs.avail;
	s->root_used_pct = s->root_ok ?
		tel_used_pct(cur->root_fs.total, cur->root_fs.free, cur->root_fs.avail) : NAN;
}
