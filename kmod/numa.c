// SPDX-License-Identifier: GPL-2.0
/*
 * On which NUMA node an object's pages are allocated: the memory policy of
 * each range of the object, as mbind() set it through any mapping of the
 * object (QEMU's host-nodes and policy on a memory backend are an mbind()).
 *
 * The policy belongs to the object, keyed by page offset, as shmem keeps
 * it per inode: several mappings of one object must agree on where a page
 * goes, and the reclaim thread, the sharing scanner and the teardown of
 * shared frames allocate with no VMA at all. Where the object has no
 * policy, the allocating task's own policy applies (numactl --membind on
 * the VMM), or the local node for the module's threads.
 *
 * The kernel's shared policy tree (mpol_shared_policy_*) and its policy
 * allocator are not exported to modules, so the object keeps a copy of
 * each policy's mode and nodes and allocates with __alloc_pages() the way
 * mm/mempolicy.c does for that mode. Everything takes an order, so that
 * large pages follow the same policy.
 */
#include <linux/cpuset.h>
#include <linux/gfp.h>
#include <linux/list.h>
#include <linux/mempolicy.h>
#include <linux/nodemask.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/topology.h>

#include "esxmem.h"

#ifdef CONFIG_NUMA

/* What one policy asks for, copied from the kernel's struct mempolicy. */
struct esxmem_numa_rule {
	unsigned short mode;		/* MPOL_* */
	int home_node;			/* NUMA_NO_NODE: none */
	nodemask_t nodes;
};

/* The rule of pages [start, end) of an object. */
struct esxmem_numa_range {
	struct list_head link;		/* in esxmem_numa.ranges */
	pgoff_t start, end;
	struct esxmem_numa_rule rule;
};

void esxmem_numa_init(struct esxmem_numa *numa)
{
	spin_lock_init(&numa->lock);
	INIT_LIST_HEAD(&numa->ranges);
	numa->nr_ranges = 0;
}

void esxmem_numa_destroy(struct esxmem_numa *numa)
{
	struct esxmem_numa_range *r, *next;

	list_for_each_entry_safe(r, next, &numa->ranges, link)
		kfree(r);
	INIT_LIST_HEAD(&numa->ranges);
	numa->nr_ranges = 0;
}

static struct esxmem_numa_range *range_alloc(void)
{
	struct esxmem_numa_range *r;

	return kmalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
}

/*
 * Sets the policy of pages [start, end) of the object to @pol, or removes
 * it when @pol is NULL (mbind() with MPOL_DEFAULT). The object keeps a copy:
 * @pol stays the caller's. 0, or -ENOMEM or -ENOSPC (the object has
 * ESXMEM_NUMA_RANGES_MAX ranges already), which change nothing: a VMM that
 * mbind()s piece by piece must not grow a list that every allocation
 * searches under a spinlock.
 */
int esxmem_numa_set(struct esxmem_numa *numa, pgoff_t start, pgoff_t end,
		    const struct mempolicy *pol)
{
	struct esxmem_numa_range *fresh = NULL, *tail, *r, *next;
	struct list_head *pos;
	LIST_HEAD(gone);

	if (start >= end)
		return 0;
	/* At most two ranges come: @pol's, and the tail of one it splits. */
	tail = range_alloc();
	if (!tail)
		return -ENOMEM;
	if (pol) {
		fresh = range_alloc();
		if (!fresh) {
			kfree(tail);
			return -ENOMEM;
		}
		fresh->start = start;
		fresh->end = end;
		fresh->rule.mode = pol->mode;
		fresh->rule.home_node = pol->home_node;
		fresh->rule.nodes = pol->nodes;
	}

	spin_lock(&numa->lock);
	if (numa->nr_ranges + 2 > ESXMEM_NUMA_RANGES_MAX) {
		spin_unlock(&numa->lock);
		kfree(tail);
		kfree(fresh);
		return -ENOSPC;
	}
	pos = &numa->ranges;
	list_for_each_entry_safe(r, next, &numa->ranges, link) {
		if (r->end <= start) {
			pos = &r->link;
			continue;
		}
		if (r->start >= end)
			break;
		if (r->start < start && r->end > end) {
			/* The new range falls inside: keep both ends. */
			*tail = *r;
			tail->start = end;
			list_add(&tail->link, &r->link);
			numa->nr_ranges++;
			tail = NULL;
			r->end = start;
			pos = &r->link;
			break;
		}
		if (r->start < start) {
			r->end = start;
			pos = &r->link;
		} else if (r->end > end) {
			r->start = end;
			break;
		} else {
			list_move(&r->link, &gone);
			numa->nr_ranges--;
		}
	}
	if (fresh) {
		list_add(&fresh->link, pos);
		numa->nr_ranges++;
	}
	spin_unlock(&numa->lock);

	kfree(tail);
	list_for_each_entry_safe(r, next, &gone, link)
		kfree(r);
	return 0;
}

/* The rule of page @index into *@rule; false when it has none. */
static bool rule_at(struct esxmem_numa *numa, pgoff_t index,
		    struct esxmem_numa_rule *rule)
{
	struct esxmem_numa_range *r;
	bool found = false;

	/* Most objects have no policy: no lock taken for them. */
	if (list_empty(&numa->ranges))
		return false;
	spin_lock(&numa->lock);
	list_for_each_entry(r, &numa->ranges, link) {
		if (r->start > index)
			break;
		if (index < r->end) {
			*rule = r->rule;
			found = true;
			break;
		}
	}
	spin_unlock(&numa->lock);
	return found;
}

/*
 * The node of unit @n of an interleaved range, as offset_il_node() in
 * mm/mempolicy.c: the n-th node of the set, round-robin. By the offset in
 * the object, not by a counter, so every mapping and every path puts the
 * same page on the same node.
 */
static int interleave_node(const struct esxmem_numa_rule *rule,
			   unsigned long n)
{
	unsigned int nnodes = nodes_weight(rule->nodes), target, i;
	int nid;

	if (!nnodes)
		return numa_node_id();
	target = n % nnodes;
	nid = first_node(rule->nodes);
	for (i = 0; i < target; i++)
		nid = next_node(nid, rule->nodes);
	return nid;
}

/*
 * The nodes of @rule, or NULL (any) when none of them is in the allocating
 * task's cpuset any more: the object keeps the nodes mbind() gave, which
 * a cpuset change since (virsh numatune --live) does not rebind, and a
 * mask outside the cpuset would fail every allocation. The kernel drops
 * such a mask the same way (policy_nodemask()).
 */
static nodemask_t *allowed_nodes(struct esxmem_numa_rule *rule)
{
	return nodes_intersects(rule->nodes, cpuset_current_mems_allowed) ?
	       &rule->nodes : NULL;
}

/* The node to start from: a node gone offline since is no choice. */
static int usable_node(int nid)
{
	return nid >= 0 && nid < MAX_NUMNODES && node_online(nid) ?
	       nid : numa_node_id();
}

/*
 * 2^@order pages from @nid on, within @nodes if set: a small page, or a
 * large folio prepared as the page cache prepares its own.
 */
static struct page *pages_from(gfp_t gfp, unsigned int order, int nid,
			       nodemask_t *nodes)
{
	struct folio *folio;

	if (!order)
		return __alloc_pages(gfp, 0, nid, nodes);
	folio = __folio_alloc(gfp, order, nid, nodes);
	return folio ? &folio->page : NULL;
}

/*
 * 2^@order pages for page @index of the object (aligned to the order), on
 * the node its policy asks for, as mm/mempolicy.c allocates for each mode.
 */
struct page *esxmem_numa_alloc(struct esxmem_numa *numa, pgoff_t index,
			       gfp_t gfp, unsigned int order)
{
	struct esxmem_numa_rule rule;
	struct folio *folio;
	struct page *page;
	int nid;

	if (!rule_at(numa, index, &rule)) {
		/* The allocating task's own policy, as for anonymous memory. */
		if (!order)
			return alloc_pages(gfp, 0);
		folio = folio_alloc(gfp, order);
		return folio ? &folio->page : NULL;
	}

	switch (rule.mode) {
	case MPOL_BIND:
		/* Any node of the set, the nearest first. */
		nid = rule.home_node != NUMA_NO_NODE ? rule.home_node :
		      numa_node_id();
		return pages_from(gfp, order, usable_node(nid),
				     allowed_nodes(&rule));
	case MPOL_PREFERRED_MANY:
		/* The set if it has memory free now, else anywhere. */
		nid = rule.home_node != NUMA_NO_NODE ? rule.home_node :
		      numa_node_id();
		page = pages_from((gfp | __GFP_NOWARN) &
				     ~(__GFP_DIRECT_RECLAIM | __GFP_NOFAIL),
				     order, usable_node(nid), allowed_nodes(&rule));
		return page ?: pages_from(gfp, order, usable_node(nid), NULL);
	case MPOL_PREFERRED:
		/* Its node first, falling back as the zonelist goes. */
		nid = first_node(rule.nodes);
		return pages_from(gfp, order, usable_node(nid), NULL);
	case MPOL_INTERLEAVE:
#ifdef ESXMEM_HAVE_MPOL_WEIGHTED_INTERLEAVE
	/* Node weights are the kernel's own: plain interleaving here. */
	case MPOL_WEIGHTED_INTERLEAVE:
#endif
		nid = interleave_node(&rule, index >> order);
		return pages_from(gfp, order, usable_node(nid), NULL);
	default:
		/* MPOL_LOCAL */
		return pages_from(gfp, order, numa_node_id(), NULL);
	}
}

#endif /* CONFIG_NUMA */
