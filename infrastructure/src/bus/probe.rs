//! What RabbitMQ says at scrape time (dead-lettered tasks per queue) and
//! whether it is ready: connected, and answering a channel open now.

use application::Error;
use application::ports::{BoxFuture, BrokerProbe, Check};

use super::RabbitBus;

impl RabbitBus {
    async fn run_checks(&self) -> Vec<Check> {
        let answered = async {
            let session = self.session_for_admin()?;
            let channel = session.connection_channel().await?;
            let _ = super::rpc("close a channel", channel.close(200, "ready".into())).await;
            Ok::<_, Error>(())
        };
        match answered.await {
            Ok(()) => vec![Check::passed("broker")],
            Err(error) => vec![Check::failed("broker", error.to_string())],
        }
    }

    async fn count_dead_letters(&self, queues: &[String]) -> Result<Vec<(String, u32)>, Error> {
        let mut counts = Vec::with_capacity(queues.len());
        for queue in queues {
            counts.push((queue.clone(), self.dead_letter_count(queue).await?));
        }
        Ok(counts)
    }
}

impl BrokerProbe for RabbitBus {
    fn dead_letters<'a>(
        &'a self,
        queues: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<(String, u32)>, Error>> {
        Box::pin(self.count_dead_letters(queues))
    }

    fn checks(&self) -> BoxFuture<'_, Vec<Check>> {
        Box::pin(self.run_checks())
    }
}
