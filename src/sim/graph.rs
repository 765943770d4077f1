//! The ground truth the simulator judges routes against: which live nodes
//! are within radio range of each other, hop distances, components.

use std::collections::VecDeque;

/// Undirected adjacency over node indices; lists are kept sorted so that
/// "is `b` a neighbour of `a`" is a binary search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    pub adj: Vec<Vec<u32>>,
}

impl Graph {
    pub fn new(n: usize) -> Self {
        Graph {
            adj: vec![Vec::new(); n],
        }
    }

    pub fn len(&self) -> usize {
        self.adj.len()
    }

    pub fn is_empty(&self) -> bool {
        self.adj.is_empty()
    }

    pub fn add_edge(&mut self, a: usize, b: usize) {
        self.adj[a].push(b as u32);
        self.adj[b].push(a as u32);
    }

    /// Sort and deduplicate after adding edges.
    pub fn finish(&mut self) {
        for l in &mut self.adj {
            l.sort_unstable();
            l.dedup();
        }
    }

    pub fn adjacent(&self, a: usize, b: usize) -> bool {
        self.adj[a].binary_search(&(b as u32)).is_ok()
    }

    pub fn avg_degree(&self, alive: &[bool]) -> f64 {
        let live: Vec<usize> = (0..self.len()).filter(|&i| alive[i]).collect();
        if live.is_empty() {
            return 0.0;
        }
        let deg: usize = live
            .iter()
            .map(|&i| self.adj[i].iter().filter(|&&j| alive[j as usize]).count())
            .sum();
        deg as f64 / live.len() as f64
    }

    /// Hop distances from `src` over live nodes (`u32::MAX` = unreachable).
    pub fn bfs(&self, src: usize, alive: &[bool]) -> Vec<u32> {
        let mut dist = vec![u32::MAX; self.len()];
        if !alive[src] {
            return dist;
        }
        dist[src] = 0;
        let mut q = VecDeque::from([src]);
        while let Some(u) = q.pop_front() {
            for &v in &self.adj[u] {
                let v = v as usize;
                if alive[v] && dist[v] == u32::MAX {
                    dist[v] = dist[u] + 1;
                    q.push_back(v);
                }
            }
        }
        dist
    }

    /// Component number of every live node (dead nodes get `u32::MAX`).
    pub fn components(&self, alive: &[bool]) -> Vec<u32> {
        let mut comp = vec![u32::MAX; self.len()];
        let mut next = 0;
        for s in 0..self.len() {
            if !alive[s] || comp[s] != u32::MAX {
                continue;
            }
            comp[s] = next;
            let mut q = VecDeque::from([s]);
            while let Some(u) = q.pop_front() {
                for &v in &self.adj[u] {
                    let v = v as usize;
                    if alive[v] && comp[v] == u32::MAX {
                        comp[v] = next;
                        q.push_back(v);
                    }
                }
            }
            next += 1;
        }
        comp
    }

    /// Whether all live nodes form one component.
    pub fn connected(&self, alive: &[bool]) -> bool {
        let comp = self.components(alive);
        comp.iter().zip(alive).all(|(&c, &a)| !a || c == 0)
    }

    /// Longest shortest path among live nodes, in hops (0 if disconnected
    /// parts exist, their pairs are ignored).
    pub fn diameter(&self, alive: &[bool]) -> u32 {
        (0..self.len())
            .filter(|&s| alive[s])
            .map(|s| {
                self.bfs(s, alive)
                    .into_iter()
                    .filter(|&d| d != u32::MAX)
                    .max()
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_distances_and_diameter() {
        let mut g = Graph::new(5);
        for i in 0..4 {
            g.add_edge(i, i + 1);
        }
        g.finish();
        let alive = vec![true; 5];
        assert_eq!(g.bfs(0, &alive)[4], 4);
        assert_eq!(g.diameter(&alive), 4);
        assert!(g.connected(&alive));
        let mut cut = alive.clone();
        cut[2] = false;
        assert!(!g.connected(&cut));
    }
}
