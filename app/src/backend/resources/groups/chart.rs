//! What the group's page shows beyond the group itself: its monthly cost and its per-zone
//! distribution as a small SVG bar chart, drawn here so the browser bundle carries no chart
//! code (as the overview's jobs chart). The chart is an image with a text alternative; the page
//! shows the same numbers in a table beside it.

use crate::backend::resources::prices;
use crate::model::groups::{GroupOverview, GroupView};
use std::fmt::Write;

/// The group's monthly cost at `desired` instances, if the price list has its type there.
pub fn monthly_cents(group: &GroupView) -> Option<i64> {
    prices::instance_monthly_cents(
        &group.region,
        group.template.instance_type.trim(),
        i64::from(group.desired),
    )
}

pub fn overview(group: GroupView) -> GroupOverview {
    GroupOverview {
        monthly_cents: monthly_cents(&group),
        chart_svg: distribution_svg(&group),
        group,
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One bar per zone: instances running (solid), members still starting (lighter), and the
/// zone's target (a dashed outline).
pub fn distribution_svg(group: &GroupView) -> String {
    // Narrow enough that the labels stay readable when a phone scales the chart down.
    const W: f64 = 400.0;
    const ROW: f64 = 30.0;
    const LABEL: f64 = 150.0;
    const BAR: f64 = 190.0;
    const TOP: f64 = 6.0;
    let max = group
        .zones
        .iter()
        .map(|z| z.target.max(z.current).max(z.running))
        .max()
        .unwrap_or(0)
        .max(1);
    let h = TOP * 2.0 + ROW * group.zones.len().max(1) as f64;
    let summary = group
        .zones
        .iter()
        .map(|z| {
            format!(
                "{} {} running of {} wanted{}",
                z.name,
                z.running,
                z.target,
                if z.capacity_failure.is_some() {
                    " (no capacity)"
                } else {
                    ""
                }
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart distribution" viewBox="0 0 {W} {h}" role="img" aria-label="Instances per zone: {}" xmlns="http://www.w3.org/2000/svg">"#,
        escape(if summary.is_empty() {
            "no zones"
        } else {
            &summary
        })
    );
    let scale = |n: u32| f64::from(n) / f64::from(max) * BAR;
    for (i, z) in group.zones.iter().enumerate() {
        let y = TOP + i as f64 * ROW;
        let bar_y = y + 6.0;
        let bar_h = ROW - 12.0;
        let text_y = y + ROW / 2.0 + 4.0;
        // Long names are cut here; the table under the chart has them whole.
        let mut label = format!("{} · {}", z.name, z.availability_zone);
        if label.chars().count() > 20 {
            label = format!("{}…", label.chars().take(19).collect::<String>());
        }
        let _ = write!(
            svg,
            r#"<text x="0" y="{text_y}" class="chart-label chart-zone">{}</text>"#,
            escape(&label)
        );
        let track = if z.capacity_failure.is_some() {
            "chart-track chart-refused"
        } else {
            "chart-track"
        };
        let _ = write!(
            svg,
            r#"<rect x="{LABEL}" y="{bar_y}" width="{BAR}" height="{bar_h}" class="{track}"/>"#
        );
        let running = scale(z.running);
        let starting = scale(z.current.saturating_sub(z.running));
        if running > 0.0 {
            let _ = write!(
                svg,
                r#"<rect x="{LABEL}" y="{bar_y}" width="{running:.1}" height="{bar_h}" class="chart-ok"/>"#
            );
        }
        if starting > 0.0 {
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{bar_y}" width="{starting:.1}" height="{bar_h}" class="chart-starting"/>"#,
                x = LABEL + running
            );
        }
        if z.target > 0 {
            let _ = write!(
                svg,
                r#"<rect x="{LABEL}" y="{bar_y}" width="{w:.1}" height="{bar_h}" class="chart-target"/>"#,
                w = scale(z.target)
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{x}" y="{text_y}" class="chart-label">{} / {}</text>"#,
            z.running,
            z.target,
            x = LABEL + BAR + 8.0
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::groups::{GroupPolicy, GroupTemplate, GroupZone};
    use crate::model::resources::ResourceStatus;
    use time::OffsetDateTime;
    use uuid::Uuid;

    fn group(zones: Vec<GroupZone>) -> GroupView {
        GroupView {
            group_id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            name: "web".into(),
            cloud_account_id: Uuid::nil(),
            cloud_account_name: "Sandbox".into(),
            region: "us-east-1".into(),
            zones,
            template: GroupTemplate {
                instance_type: "t3.micro".into(),
                image_id: "ami-12345678".into(),
                user_data: None,
                tags: Default::default(),
            },
            revision: 1,
            min: 0,
            max: 10,
            desired: 3,
            desired_set_by: None,
            desired_set_at: OffsetDateTime::UNIX_EPOCH,
            policy: GroupPolicy::default(),
            running: 0,
            status: ResourceStatus::Ready,
            generation: 1,
            observed_generation: 1,
            conditions: vec![],
            waiting: vec![],
            security_group_id: None,
            last_error: None,
            deletion_requested_at: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn zone(name: &str, running: u32, current: u32, target: u32) -> GroupZone {
        GroupZone {
            zone_id: Uuid::nil(),
            name: name.into(),
            availability_zone: format!("us-east-1{}", &name[name.len() - 1..]),
            running,
            current,
            target,
            capacity_failure: None,
        }
    }

    #[test]
    fn the_chart_is_an_image_that_says_what_it_shows() {
        let svg = distribution_svg(&group(vec![zone("web-a", 2, 2, 2), zone("web-b", 0, 1, 1)]));
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains(
            r#"role="img" aria-label="Instances per zone: web-a 2 running of 2 wanted, web-b 0 running of 1 wanted""#
        ));
        assert_eq!(svg.matches("chart-track").count(), 2);
        assert_eq!(svg.matches("chart-starting").count(), 1);
        assert!(svg.contains(">2 / 2<"));
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn a_group_without_zones_still_draws_and_costs_its_instances() {
        let g = group(vec![]);
        assert!(distribution_svg(&g).contains("no zones"));
        // t3.micro in us-east-1: $0.0104 an hour, 3 × 730 hours.
        assert_eq!(monthly_cents(&g), Some(2278));
    }
}
