//! `GET /alerts` (fired alerts, newest first, with paging) and
//! `GET`/`PUT /alerts/rules` (the rule set, checked as a whole).

use serde_json::{Map, Value};
use spool_core::alert::Rule;
use spool_core::query::Filter;
use spool_proto::http::Request;

use super::read::logs_query_parts;
use super::reply::{error, Reply};
use crate::alerts::record::SERVICE;
use crate::alerts::rules::{from_json, RulesError};
use crate::query::logs::{self, LogsQuery, QueryError};
use crate::query::pool::Job;
use crate::query::ReadSide;

const ALERTS_PARAMS: &str = "level, q, qi, since, until, limit, cursor";

/// Parses `GET /alerts`: the parameters of `/logs` but `service` (alerts
/// are the records of service `spool`).
pub(super) fn alerts_query(req: &Request) -> Result<LogsQuery, Reply> {
    let mut q = logs_query_parts(req, "/alerts", ALERTS_PARAMS)?;
    if q.filter.services.is_some() {
        return Err(error(
            400,
            &format!("service: alerts are the daemon's own records (service \"{SERVICE}\"); /alerts takes {ALERTS_PARAMS}"),
        ));
    }
    q.filter = Filter {
        services: Some(vec![SERVICE.to_owned()]),
        ..q.filter
    };
    Ok(q)
}

/// The job answering `GET /alerts`: the alert records `/logs` would give
/// for service `spool`, each as the delivered alert object.
pub(super) fn alerts_job(q: LogsQuery) -> Job {
    Box::new(move |rs: &ReadSide| match logs::run(rs, &q) {
        Ok(body) => match as_alerts(&body) {
            Some(body) => Reply::json(200, body),
            None => error(500, "the alerts query gave an answer that is not JSON"),
        },
        Err(QueryError::Damaged(what)) => error(500, &what),
        Err(QueryError::Io(what)) => error(500, &format!("reading the log failed: {what}")),
    })
}

/// Rewrites a `/logs` answer as `{"count","alerts","next_cursor",
/// "oldest_id","partial"}`: each alert record flattened (type, id,
/// timestamp, level, message, then the alert's own fields); any other
/// record of the service skipped.
fn as_alerts(body: &[u8]) -> Option<Vec<u8>> {
    let Value::Object(mut page) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    let Some(Value::Array(logs)) = page.remove("logs") else {
        return None;
    };
    let mut alerts = Vec::with_capacity(logs.len());
    for record in logs {
        let Value::Object(mut r) = record else {
            continue;
        };
        let Some(Value::Object(mut meta)) = r.remove("metadata") else {
            continue;
        };
        let Some(Value::Object(fields)) = meta.remove("alert") else {
            continue;
        };
        let mut a = Map::new();
        a.insert("type".into(), "alert".into());
        for key in ["id", "timestamp", "level", "message"] {
            a.insert(key.into(), r.remove(key).unwrap_or(Value::Null));
        }
        a.extend(fields);
        alerts.push(Value::Object(a));
    }
    let mut out = Map::new();
    out.insert("count".into(), alerts.len().into());
    out.insert("alerts".into(), Value::Array(alerts));
    for key in ["next_cursor", "oldest_id", "partial"] {
        out.insert(key.into(), page.remove(key).unwrap_or(Value::Null));
    }
    serde_json::to_vec(&Value::Object(out)).ok()
}

/// Parses `PUT /alerts/rules`: the whole set, or the 400 naming the rule
/// (1-based `rule`, its `name`) and the `field` at fault.
pub(super) fn put_rules(req: &Request) -> Result<Vec<Rule>, Reply> {
    if let Some((key, _)) = req.query_pairs().first() {
        return Err(error(
            400,
            &format!("unknown parameter {key:?}; PUT /alerts/rules takes a JSON body only"),
        ));
    }
    from_json(&req.body).map_err(|e| rules_error(&e))
}

/// A 400 naming the rule and the field, both in the message and as
/// fields of their own.
pub(crate) fn rules_error(e: &RulesError) -> Reply {
    let mut body = Map::new();
    body.insert("error".into(), format!("{e}").into());
    body.insert("status".into(), 400.into());
    if e.rule > 0 {
        body.insert("rule".into(), e.rule.into());
        body.insert(
            "name".into(),
            e.name.clone().map(Value::from).unwrap_or(Value::Null),
        );
        body.insert("field".into(), e.field.clone().into());
    }
    Reply::json(
        400,
        serde_json::to_vec(&Value::Object(body)).unwrap_or_default(),
    )
}

/// `GET /alerts/rules`: the rules in force, as `PUT` takes them, and
/// where they came from.
pub(super) fn get_rules(req: &Request, rules_json: &[u8], source: &str) -> Reply {
    if let Some((key, _)) = req.query_pairs().first() {
        return error(
            400,
            &format!("unknown parameter {key:?}; GET /alerts/rules takes none"),
        );
    }
    let mut doc: Map<String, Value> = match serde_json::from_slice(rules_json) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    doc.insert("source".into(), source.into());
    Reply::json(
        200,
        serde_json::to_vec_pretty(&Value::Object(doc)).unwrap_or_default(),
    )
}
