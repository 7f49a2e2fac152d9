//! Accounts and transfers: structs, enums, traits, match, loops with break values, closures.
use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum TxError {
    UnknownAccount(String),
    Insufficient { needed: u64, available: u64 },
}

impl fmt::Display for TxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxError::UnknownAccount(name) => write!(f, "unknown account {}", name),
            TxError::Insufficient { needed, available } => {
                write!(f, "needed {} but only {} available", needed, available)
            }
        }
    }
}

#[derive(Default)]
pub struct Bank {
    balances: HashMap<String, u64>,
    log: Vec<String>,
}

impl Bank {
    pub fn deposit(&mut self, name: &str, amount: u64) {
        *self.balances.entry(name.to_string()).or_insert(0) += amount;
    }

    pub fn transfer(&mut self, from: &str, to: &str, amount: u64) -> Result<u64, TxError> {
        let available = *self
            .balances
            .get(from)
            .ok_or_else(|| TxError::UnknownAccount(from.to_string()))?;
        if !self.balances.contains_key(to) {
            return Err(TxError::UnknownAccount(to.to_string()));
        } else if available < amount {
            return Err(TxError::Insufficient { needed: amount, available });
        }
        self.balances.insert(from.to_string(), available - amount);
        self.deposit(to, amount);
        self.log.push(format!("{} -> {}: {}", from, to, amount));
        Ok(available - amount)
    }

    pub fn settle(&mut self, transfers: &[(&str, &str, u64)]) -> usize {
        let mut done = 0;
        for &(from, to, amount) in transfers {
            if amount == 0 {
                continue;
            }
            match self.transfer(from, to, amount) {
                Ok(_) => done += 1,
                Err(TxError::Insufficient { .. }) => break,
                Err(e) => self.log.push(e.to_string()),
            }
        }
        done
    }
}

pub fn first_rich(bank: &Bank, names: &[&str], threshold: u64) -> Option<String> {
    let mut i = 0;
    let found = loop {
        if i >= names.len() {
            break None;
        }
        let balance = bank.balances.get(names[i]).copied().unwrap_or_default();
        if balance >= threshold {
            break Some(names[i].to_string());
        }
        i += 1;
    };
    found
}
