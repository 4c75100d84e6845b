//! A slab of nodes linked by index, and the doubly linked lists threaded through it.
//!
//! Every policy keeps its order as linked lists (one list of entries, or frequency buckets each holding one), and
//! every operation must be O(1): unlink a node from the middle, append it elsewhere, reuse a freed node. Nodes live
//! in one `Vec` and name their neighbours by index, so the lists need no pointers (the crate forbids `unsafe`) and
//! no allocation per entry; freed nodes are chained through their `next` index into a free list and reused first.
//! Written here rather than taken from a crate because the order is the cache's whole job: the policies need to
//! thread two kinds of lists (entries, frequency buckets) through slabs they share with the hash table's indices.

/// The index that means "no node": the end of a list, or an empty free list.
pub(super) const NIL: u32 = u32::MAX;

/// The most nodes a slab holds: every index below `NIL`.
pub(super) const MAX_NODES: usize = NIL as usize;

struct Node<T> {
    prev: u32,
    next: u32,
    /// `None` while the node is on the free list.
    value: Option<T>,
}

/// Values addressed by a stable `u32` index, each with the links of the one list it is on.
pub(super) struct Slab<T> {
    nodes: Vec<Node<T>>,
    free: u32,
    len: usize,
}

impl<T> Slab<T> {
    pub(super) fn new() -> Self {
        Self {
            nodes: Vec::new(),
            free: NIL,
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Stores `value` in a free node (or a new one) and returns its index; it is on no list yet.
    /// The caller keeps `len` under `MAX_NODES`.
    pub(super) fn insert(&mut self, value: T) -> u32 {
        self.len += 1;
        if self.free != NIL {
            let index = self.free;
            let node = &mut self.nodes[index as usize];
            self.free = node.next;
            node.prev = NIL;
            node.next = NIL;
            node.value = Some(value);
            return index;
        }
        let index = u32::try_from(self.nodes.len()).expect("the cache keeps fewer than u32::MAX entries");
        self.nodes.push(Node {
            prev: NIL,
            next: NIL,
            value: Some(value),
        });
        index
    }

    /// Takes the value out and frees its node; the caller has unlinked it from its list first.
    pub(super) fn remove(&mut self, index: u32) -> T {
        let node = &mut self.nodes[index as usize];
        let value = node.value.take().expect("a removed node is in use");
        node.next = self.free;
        self.free = index;
        self.len -= 1;
        value
    }

    pub(super) fn get(&self, index: u32) -> &T {
        self.nodes[index as usize]
            .value
            .as_ref()
            .expect("a linked node is in use")
    }

    pub(super) fn get_mut(&mut self, index: u32) -> &mut T {
        self.nodes[index as usize]
            .value
            .as_mut()
            .expect("a linked node is in use")
    }

    pub(super) fn next(&self, index: u32) -> u32 {
        self.nodes[index as usize].next
    }

    pub(super) fn prev(&self, index: u32) -> u32 {
        self.nodes[index as usize].prev
    }

    /// The indices of the nodes in use, in slot order.
    pub(super) fn indices(&self) -> impl Iterator<Item = u32> + '_ {
        (0..)
            .zip(&self.nodes)
            .filter(|(_, node)| node.value.is_some())
            .map(|(index, _)| index)
    }

    pub(super) fn clear(&mut self) {
        self.free = NIL;
        self.len = 0;
        self.nodes.clear();
    }
}

/// The two ends of a list of nodes of one slab; the links live in the nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct List {
    head: u32,
    tail: u32,
}

impl List {
    pub(super) const EMPTY: Self = Self { head: NIL, tail: NIL };

    pub(super) fn front(self) -> u32 {
        self.head
    }

    pub(super) fn back(self) -> u32 {
        self.tail
    }

    pub(super) fn is_empty(self) -> bool {
        self.head == NIL
    }

    pub(super) fn push_back<T>(&mut self, slab: &mut Slab<T>, index: u32) {
        self.insert_after(slab, self.tail, index);
    }

    pub(super) fn push_front<T>(&mut self, slab: &mut Slab<T>, index: u32) {
        let node = &mut slab.nodes[index as usize];
        node.prev = NIL;
        node.next = self.head;
        match self.head {
            NIL => self.tail = index,
            head => slab.nodes[head as usize].prev = index,
        }
        self.head = index;
    }

    /// Links `index` right after `at`, a node of this list (`NIL`: at the front).
    pub(super) fn insert_after<T>(&mut self, slab: &mut Slab<T>, at: u32, index: u32) {
        if at == NIL {
            self.push_front(slab, index);
            return;
        }
        let next = slab.nodes[at as usize].next;
        let node = &mut slab.nodes[index as usize];
        node.prev = at;
        node.next = next;
        slab.nodes[at as usize].next = index;
        match next {
            NIL => self.tail = index,
            next => slab.nodes[next as usize].prev = index,
        }
    }

    pub(super) fn unlink<T>(&mut self, slab: &mut Slab<T>, index: u32) {
        let Node { prev, next, .. } = slab.nodes[index as usize];
        match prev {
            NIL => self.head = next,
            prev => slab.nodes[prev as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => slab.nodes[next as usize].prev = prev,
        }
    }

    /// Moves `index`, already on this list, to its back.
    pub(super) fn move_to_back<T>(&mut self, slab: &mut Slab<T>, index: u32) {
        if self.tail != index {
            self.unlink(slab, index);
            self.push_back(slab, index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(list: List, slab: &Slab<char>) -> Vec<char> {
        let mut values = Vec::new();
        let mut at = list.front();
        while at != NIL {
            values.push(*slab.get(at));
            at = slab.next(at);
        }
        let mut backwards = Vec::new();
        let mut at = list.back();
        while at != NIL {
            backwards.push(*slab.get(at));
            at = slab.prev(at);
        }
        backwards.reverse();
        assert_eq!(values, backwards, "the links agree in both directions");
        values
    }

    #[test]
    fn nodes_link_unlink_and_move_in_both_directions() {
        let mut slab = Slab::new();
        let mut list = List::EMPTY;
        let [a, b, c] = ['a', 'b', 'c'].map(|value| slab.insert(value));
        list.push_back(&mut slab, a);
        list.push_back(&mut slab, b);
        list.push_front(&mut slab, c);
        assert_eq!(collect(list, &slab), ['c', 'a', 'b']);
        list.move_to_back(&mut slab, c);
        assert_eq!(collect(list, &slab), ['a', 'b', 'c']);
        list.unlink(&mut slab, b);
        assert_eq!(collect(list, &slab), ['a', 'c']);
        list.insert_after(&mut slab, a, b);
        assert_eq!(collect(list, &slab), ['a', 'b', 'c']);
        for index in [a, b, c] {
            list.unlink(&mut slab, index);
        }
        assert!(list.is_empty());
        assert_eq!(list, List::EMPTY);
    }

    #[test]
    fn freed_nodes_are_reused_before_the_slab_grows() {
        let mut slab = Slab::new();
        let a = slab.insert('a');
        let b = slab.insert('b');
        assert_eq!(slab.remove(a), 'a');
        assert_eq!(slab.len(), 1);
        let c = slab.insert('c');
        assert_eq!(c, a, "the freed node is reused");
        assert_eq!(slab.indices().collect::<Vec<_>>(), [a, b]);
        slab.clear();
        assert_eq!(slab.len(), 0);
        assert_eq!(slab.indices().count(), 0);
    }
}
