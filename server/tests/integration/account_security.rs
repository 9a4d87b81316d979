//! Issue 12, the account side: each test drives the real server the way the attack did.

use crate::support::{TestApp, PASSWORD};

fn invitation_token(reply: &crate::support::Reply) -> String {
    reply.json()["link_path"]
        .as_str()
        .unwrap_or_else(|| panic!("no link in {}", reply.body))
        .trim_start_matches("/invite/")
        .to_string()
}

/// An admin of tenant B invites tenant A's owner and keeps the link. Before the fix the link
/// checked the account's password with no limit: a guessing loop that, on a hit, signed the
/// attacker in as the victim.
#[tokio::test]
async fn an_invitation_link_is_no_password_channel_for_an_existing_account() {
    let app = TestApp::spawn().await;
    app.tenant_with_roles("alpha").await;
    app.tenant_with_roles("beta").await;
    let attacker = app.client();
    attacker.sign_in("owner@beta.test", PASSWORD).await;
    let invite = attacker
        .rpc(
            "invite_member",
            &[("email", "owner@alpha.test"), ("role", "admin")],
        )
        .await;
    assert_eq!(invite.status, 200, "{}", invite.body);
    let token = invitation_token(&invite);

    // Signed out, the page does not say whether the email has an account.
    let guesser = app.client();
    let preview = guesser
        .rpc("preview_invitation", &[("token", &token)])
        .await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(preview.json()["signed_in_as"].is_null());
    assert!(
        preview.json().get("existing_user").is_none(),
        "{}",
        preview.body
    );

    // The guessing loop: wrong passwords, then the right one. Every answer is the same
    // refusal, and none signs anyone in.
    let mut answers = Vec::new();
    for i in 0..12 {
        let guess = if i == 11 {
            PASSWORD.to_string()
        } else {
            format!("guess number {i} for you")
        };
        let r = guesser
            .rpc(
                "accept_invitation",
                &[
                    ("token", &token),
                    ("display_name", "Mallory"),
                    ("password", &guess),
                ],
            )
            .await;
        assert_eq!(r.status, 409, "{}", r.body);
        answers.push(r.body.clone());
        let me = guesser.rpc("get_session_info", &[]).await;
        assert!(me.json().is_null(), "signed in by a guess: {}", me.body);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");

    // Another signed-in person cannot take the invitation.
    let other = app.client();
    other.sign_in("member@alpha.test", PASSWORD).await;
    let preview = other.rpc("preview_invitation", &[("token", &token)]).await;
    assert_eq!(preview.json()["signed_in_as"], "member@alpha.test");
    let refused = other.rpc("join_invitation", &[("token", &token)]).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let tenants = other.rpc("get_session_info", &[]).await.json()["tenants"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(tenants, 1);
    // Nor can an unsigned request.
    let anonymous = app
        .client()
        .rpc("join_invitation", &[("token", &token)])
        .await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);

    // The invited person: half signed in (second factor due) is not enough ...
    let victim = app.client();
    victim.sign_in("owner@alpha.test", PASSWORD).await;
    let (authenticator, _) = victim.enrol_mfa().await;
    let invited = app.client();
    let first = invited.sign_in("owner@alpha.test", PASSWORD).await;
    assert_eq!(first.json(), "second_factor");
    let half = invited.rpc("join_invitation", &[("token", &token)]).await;
    assert_eq!(half.status, 401, "{}", half.body);
    // ... signed in fully, they accept without any password, and land in the tenant.
    let code = authenticator.next_code().await;
    let second = invited
        .rpc("verify_second_factor", &[("code", code.as_str())])
        .await;
    assert_eq!(second.status, 200, "{}", second.body);
    let joined = invited.rpc("join_invitation", &[("token", &token)]).await;
    assert!(joined.status < 400, "{} {}", joined.status, joined.body);
    let info = invited.rpc("get_session_info", &[]).await.json();
    assert_eq!(info["tenants"].as_array().unwrap().len(), 2);
    assert_eq!(info["current"]["slug"], "beta");
    // The link is spent.
    let again = invited.rpc("join_invitation", &[("token", &token)]).await;
    assert_eq!(again.status, 410, "{}", again.body);
}
