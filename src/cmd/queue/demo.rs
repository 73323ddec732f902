pub async fn run(_out: &mut crate::output::Output) -> anyhow::Result<()> {
    Ok(())
}
