//! From two attributed windows, one under pressure and one of the same workload with
//! RAM to spare, the cost of reclaim per reclaimed page: (pressure - spare) / pages,
//! per step, per vCPU and per role (kswapd, kcompressd, workload). Owns only that
//! arithmetic and the JSON shapes it reads and writes.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::attribute::Attribution;

/// The JSON summary of one attributed window (what `insn-profile attribute` prints).
pub fn summary(a: &Attribution, windows: &[usize]) -> Value {
    let per_vcpu: Vec<u64> = (0..a.vcpus)
        .map(|v| a.by_step.iter().map(|s| s[v]).sum())
        .collect();
    let steps: Map<String, Value> = a
        .steps
        .iter()
        .zip(&a.by_step)
        .map(|(n, s)| (n.clone(), json!(s.iter().sum::<u64>())))
        .collect();
    let vcpu_steps: Vec<Value> = (0..a.vcpus)
        .map(|v| {
            Value::Object(
                a.steps
                    .iter()
                    .zip(&a.by_step)
                    .map(|(n, s)| (n.clone(), json!(s[v])))
                    .collect(),
            )
        })
        .collect();
    json!({
        "windows": windows,
        "vcpus": a.vcpus,
        "total": a.total(),
        "per_vcpu": per_vcpu,
        "steps": steps,
        "vcpu_steps": vcpu_steps,
    })
}

/// What `summary` wrote, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub total: u64,
    pub per_vcpu: Vec<u64>,
    /// In the rules' order.
    pub steps: Vec<(String, u64)>,
}

pub fn read_summary(v: &Value) -> Result<Summary, String> {
    let num = |x: &Value| x.as_u64().ok_or_else(|| format!("not a count: {x}"));
    let total = num(&v["total"])?;
    let per_vcpu = v["per_vcpu"]
        .as_array()
        .ok_or("summary without per_vcpu")?
        .iter()
        .map(num)
        .collect::<Result<_, _>>()?;
    let steps = v["steps"]
        .as_object()
        .ok_or("summary without steps")?
        .iter()
        .map(|(k, x)| Ok((k.clone(), num(x)?)))
        .collect::<Result<_, String>>()?;
    Ok(Summary {
        total,
        per_vcpu,
        steps,
    })
}

/// (pressure - spare) / pages for each step (in `order`), each vCPU and each role
/// (a role's vCPUs added up). Steps missing from one side count 0 there.
pub fn per_page(
    pressure: &Summary,
    spare: &Summary,
    pages: u64,
    order: &[String],
    roles: &[(String, Vec<usize>)],
) -> Result<Value, String> {
    if pages == 0 {
        return Err(String::from("no page was reclaimed: nothing to divide by"));
    }
    let p = pages as f64;
    let get = |s: &Summary, k: &str| s.steps.iter().find(|(n, _)| n == k).map_or(0, |x| x.1);
    let mut steps = Map::new();
    let mut sum = 0.0;
    for k in order {
        let x = (get(pressure, k) as f64 - get(spare, k) as f64) / p;
        sum += x;
        steps.insert(k.clone(), json!(x.round() as i64));
    }
    let vcpu = |v: usize| {
        (pressure.per_vcpu.get(v).copied().unwrap_or(0) as f64
            - spare.per_vcpu.get(v).copied().unwrap_or(0) as f64)
            / p
    };
    let vcpus: Vec<i64> = (0..pressure.per_vcpu.len().max(spare.per_vcpu.len()))
        .map(|v| vcpu(v).round() as i64)
        .collect();
    let mut role_map = BTreeMap::new();
    for (name, cpus) in roles {
        if let Some(&bad) = cpus.iter().find(|&&c| c >= pressure.per_vcpu.len()) {
            return Err(format!("role {name}: no vCPU {bad} in the profile"));
        }
        role_map.insert(
            name.clone(),
            json!(cpus.iter().map(|&c| vcpu(c)).sum::<f64>().round() as i64),
        );
    }
    Ok(json!({
        "pages": pages,
        "steps": steps,
        "profiled_instructions_per_page": sum.round() as i64,
        "vcpus": vcpus,
        "roles": role_map,
        "pressure_instructions": pressure.total,
        "spare_instructions": spare.total,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(total: u64, per_vcpu: &[u64], steps: &[(&str, u64)]) -> Summary {
        Summary {
            total,
            per_vcpu: per_vcpu.to_vec(),
            steps: steps.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn pressure_minus_spare_over_pages() {
        let order: Vec<String> = ["compress", "workload", "other"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = s(
            1900,
            &[100, 1000, 800],
            &[("compress", 1000), ("workload", 800), ("other", 100)],
        );
        let sp = s(900, &[100, 0, 800], &[("workload", 800), ("other", 100)]);
        let roles = vec![
            ("kswapd".to_string(), vec![1]),
            ("workload".to_string(), vec![2]),
        ];
        let v = per_page(&p, &sp, 10, &order, &roles).unwrap();
        assert_eq!(v["steps"]["compress"], 100);
        assert_eq!(v["steps"]["workload"], 0);
        assert_eq!(v["profiled_instructions_per_page"], 100);
        assert_eq!(v["vcpus"], json!([0, 100, 0]));
        assert_eq!(v["roles"]["kswapd"], 100);
        assert_eq!(v["roles"]["workload"], 0);
        assert!(per_page(&p, &sp, 0, &order, &roles).is_err());
        let bad = vec![("x".to_string(), vec![7])];
        assert!(
            per_page(&p, &sp, 10, &order, &bad)
                .unwrap_err()
                .contains("vCPU 7")
        );
    }

    #[test]
    fn summaries_read_back() {
        let a = Attribution {
            vcpus: 2,
            steps: vec!["compress".into(), "other".into()],
            by_step: vec![vec![5, 6], vec![1, 0]],
            by_function: Default::default(),
        };
        let v = summary(&a, &[1]);
        let r = read_summary(&v).unwrap();
        assert_eq!(r.total, 12);
        assert_eq!(r.per_vcpu, [6, 6]);
        assert_eq!(
            r.steps,
            [("compress".to_string(), 11), ("other".to_string(), 1)]
        );
        assert_eq!(v["vcpu_steps"][1]["compress"], 6);
    }
}
