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

#[derive(Clone, Copy)]
struct Links {
    prev: u32,
    next: u32,
}

/// Values addressed by a stable `u32` index, each with the links of the one list it is on. The links are kept
/// apart from the values (8 bytes a node), so moving a node touches its neighbours' links and not their entries.
/// A free slot holds `T::default()`: `None` for the cache's entries, a zero bucket for LFU's buckets.
pub(super) struct Slab<T> {
    links: Vec<Links>,
    values: Vec<T>,
    free: u32,
    len: usize,
}

impl<T: Default> Slab<T> {
    pub(super) fn new() -> Self {
        Self {
            links: Vec::new(),
            values: Vec::new(),
            free: NIL,
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Stores `value` in a free slot (or a new one) and returns its index; it is on no list yet.
    /// The caller keeps `len` under `MAX_NODES`.
    pub(super) fn insert(&mut self, value: T) -> u32 {
        self.len += 1;
        let unlinked = Links { prev: NIL, next: NIL };
        if self.free != NIL {
            let index = self.free;
            self.free = self.links[index as usize].next;
            self.links[index as usize] = unlinked;
            self.values[index as usize] = value;
            return index;
        }
        let index = u32::try_from(self.values.len()).expect("the cache keeps fewer than u32::MAX entries");
        self.links.push(unlinked);
        self.values.push(value);
        index
    }

    /// Takes the value out and frees its slot; the caller has unlinked it from its list first.
    pub(super) fn remove(&mut self, index: u32) -> T {
        self.links[index as usize].next = self.free;
        self.free = index;
        self.len -= 1;
        std::mem::take(&mut self.values[index as usize])
    }

    #[inline]
    pub(super) fn get(&self, index: u32) -> &T {
        &self.values[index as usize]
    }

    #[inline]
    pub(super) fn get_mut(&mut self, index: u32) -> &mut T {
        &mut self.values[index as usize]
    }

    #[inline]
    pub(super) fn next(&self, index: u32) -> u32 {
        self.links[index as usize].next
    }

    #[inline]
    pub(super) fn prev(&self, index: u32) -> u32 {
        self.links[index as usize].prev
    }

    /// Every slot with its index, free ones included.
    pub(super) fn slots(&self) -> impl Iterator<Item = (u32, &T)> {
        (0..).zip(&self.values)
    }

    pub(super) fn clear(&mut self) {
        self.free = NIL;
        self.len = 0;
        self.links.clear();
        self.values.clear();
    }
}

/// The two ends of a list of nodes of one slab; the links live in the slab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct List {
    head: u32,
    tail: u32,
}

impl Default for List {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl List {
    pub(super) const EMPTY: Self = Self { head: NIL, tail: NIL };

    #[inline]
    pub(super) fn front(self) -> u32 {
        self.head
    }

    #[inline]
    pub(super) fn back(self) -> u32 {
        self.tail
    }

    #[inline]
    pub(super) fn is_empty(self) -> bool {
        self.head == NIL
    }

    #[inline]
    pub(super) fn push_back<T>(&mut self, slab: &mut Slab<T>, index: u32) {
        let links = &mut slab.links;
        links[index as usize] = Links {
            prev: self.tail,
            next: NIL,
        };
        match self.tail {
            NIL => self.head = index,
            tail => links[tail as usize].next = index,
        }
        self.tail = index;
    }

    pub(super) fn push_front<T>(&mut self, slab: &mut Slab<T>, index: u32) {
        let links = &mut slab.links;
        links[index as usize] = Links {
            prev: NIL,
            next: self.head,
        };
        match self.head {
            NIL => self.tail = index,
            head => links[head as usize].prev = index,
        }
        self.head = index;
    }

    /// Links `index` right after `at`, a node of this list.
    pub(super) fn insert_after<T>(&mut self, slab: &mut Slab<T>, at: u32, index: u32) {
        let links = &mut slab.links;
        let next = links[at as usize].next;
        links[index as usize] = Links { prev: at, next };
        links[at as usize].next = index;
        match next {
            NIL => self.tail = index,
            next => links[next as usize].prev = index,
        }
    }

    #[inline]
    pub(super) fn unlink<T>(&mut self, slab: &mut Slab<T>, index: u32) {
        let links = &mut slab.links;
        let Links { prev, next } = links[index as usize];
        match prev {
            NIL => self.head = next,
            prev => links[prev as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => links[next as usize].prev = prev,
        }
    }

    /// Moves `index`, already on this list, to its back: the hot path of LRU and MRU hits, so done in one go.
    #[inline]
    pub(super) fn move_to_back<T>(&mut self, slab: &mut Slab<T>, index: u32) {
        let links = &mut slab.links;
        let Links { prev, next } = links[index as usize];
        if next == NIL {
            return;
        }
        // Not the back, so it has a next node, and the list's back is another node.
        links[next as usize].prev = prev;
        match prev {
            NIL => self.head = next,
            prev => links[prev as usize].next = next,
        }
        let tail = self.tail;
        links[tail as usize].next = index;
        links[index as usize] = Links { prev: tail, next: NIL };
        self.tail = index;
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
        assert_eq!(*slab.get(a), char::default(), "a free slot holds the default");
        let c = slab.insert('c');
        assert_eq!(c, a, "the freed node is reused");
        assert_eq!(slab.slots().collect::<Vec<_>>(), [(a, &'c'), (b, &'b')]);
        slab.clear();
        assert_eq!(slab.len(), 0);
        assert_eq!(slab.slots().count(), 0);
    }
}
