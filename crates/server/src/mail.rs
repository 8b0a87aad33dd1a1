//! Outgoing e-mail (invitations), over SMTP with `lettre`. The URL says how:
//! `smtps://user:pass@host:465` (TLS from the start), `smtp://host:587?tls=required`
//! (STARTTLS), or `smtp://host:25` (plain, for a relay on this machine or a test listener).

use anyhow::Context;
use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Sends the deployment's e-mail.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// A mailer for the SMTP server at `url`, sending as `from` (`Name <address>` or an
    /// address).
    pub fn new(url: &str, from: &str) -> anyhow::Result<Mailer> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .context("reading --smtp-url (smtp://host:port, smtp://host:587?tls=required or smtps://host:465)")?
            .timeout(Some(std::time::Duration::from_secs(15)))
            .build();
        let from = from
            .parse()
            .with_context(|| format!("reading --smtp-from {from:?} as an e-mail address"))?;
        Ok(Mailer { transport, from })
    }

    /// Sends `to` the link where they set their password and activate their account.
    pub async fn send_invitation(
        &self,
        to: &str,
        organization: &str,
        link: &str,
        expires: &str,
    ) -> anyhow::Result<()> {
        let to: Mailbox = to.parse().context("the user's e-mail address")?;
        let body = format!(
            "You have been invited to sign in to {organization}.\n\n\
             Open this link to set your password and activate your account:\n\n{link}\n\n\
             The link works once and expires at {expires}. If you did not expect this \
             message, ignore it.\n"
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(format!("Activate your {organization} account"))
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .context("building the invitation e-mail")?;
        self.transport
            .send(message)
            .await
            .context("sending the invitation e-mail")?;
        Ok(())
    }
}
